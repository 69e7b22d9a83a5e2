"""Ctrl-C and SIGTERM at any moment: one line on stderr and exit code 130, never a traceback or death by signal.

The start-up cases run the real entry point in a child process and signal it at a moment the test knows for
certain (an import held open by a gate, or "the handlers are in place" read from /proc), so nothing depends on
timing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit import interrupts

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
ONE_LINE = f"{interrupts.MESSAGE}\n"

# The real entry point, with an import hook that stops in the middle of importing Typer (the CLI's first heavy
# import), says so on stdout and waits for a byte on stdin: the test signals the process while it is there.
GATED = """
import os, sys
class Gate:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.meta_path.remove(self)
            os.write(1, b"importing typer\\n")
            os.read(0, 1)
        return None
sys.meta_path.insert(0, Gate())
sys.argv = ["mnist-toolkit", *sys.argv[1:]]
from toolkit.__main__ import main
main()
"""


# Run with -m, as `python -m toolkit` is: a KeyboardInterrupt that ends an eval() of a string (namedtuple does
# that while NumPy is imported) is remembered by CPython, which then kills a -m process with SIGINT at exit.
EVAL_GATE = """
import os, signal, sys
class Gate:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":  # the predict command imports it, inside its raising() block
            sys.meta_path.remove(self)
            eval("__import__('os').kill(__import__('os').getpid(), __import__('signal').SIGTERM)")
        return None
sys.meta_path.insert(0, Gate())
sys.argv = ["mnist-toolkit", *sys.argv[1:]]
from toolkit.__main__ import main
main()
"""


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored SIGINT is inherited and kept (on
    # purpose); give the child the default a terminal would, whatever runs this suite.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], preexec=_default_sigint, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=cwd,
        preexec_fn=preexec,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_cli_imports_is_one_line_and_130(signum, tmp_path):
    proc = _start([sys.executable, "-c", GATED, "predict", str(tmp_path), "--out", str(tmp_path / "o.csv")])
    assert proc.stdout.readline() == b"importing typer\n"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode() == ONE_LINE
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_inside_an_eval_still_exits_130(tmp_path):
    (tmp_path / "gate_eval.py").write_text(EVAL_GATE)
    proc = _start(
        [sys.executable, "-m", "gate_eval", "predict", str(tmp_path / "in"), "--out", str(tmp_path / "o.csv")],
        cwd=tmp_path,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.decode() == ONE_LINE


def test_a_signal_ignored_at_start_stays_ignored():
    # nohup and `cmd &` in a script start programs with SIGINT ignored; they must keep running through it.
    proc = _start([sys.executable, "-c", GATED, "--help"], preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout.readline() == b"importing typer\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(b"x", timeout=60)  # lets the import go on
    assert proc.returncode == 0, err
    assert b"Usage:" in out


def _caught(pid: int, signum: int) -> bool:
    """True once the process has a handler for `signum` (the SigCgt mask of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_right_after_the_handlers_are_installed(signum, tmp_path):
    """`python -m toolkit predict` as users run it, signalled as soon as it catches SIGTERM (the last handler
    `install` sets): the imports of the CLI have only just begun."""
    proc = _start([sys.executable, "-m", "toolkit", "predict", str(tmp_path), "--out", str(tmp_path / "o.csv")])
    deadline = time.monotonic() + 30
    while not _caught(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline, "the handlers were never installed"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode() == ONE_LINE
    assert list(tmp_path.iterdir()) == []


def test_signals_during_interpreter_teardown_do_not_kill_the_process():
    """After the last atexit callback Python restores the default dispositions; a SIGTERM that comes then (here
    from a __del__ run while modules are torn down) must not turn a finished command into death by signal."""
    code = (
        "import os, signal\n"
        "from toolkit import interrupts\n"
        "interrupts.install()\n"
        "class Late:\n"
        "    def __del__(self, kill=os.kill, pid=os.getpid(), term=signal.SIGTERM):\n"
        "        kill(pid, term)\n"
        "late = Late()\n"
        "raise SystemExit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert result.returncode == 3 and result.stderr == ""


def test_a_signal_after_the_command_ended_keeps_its_exit_code():
    """Once the command has its outcome (say 3: some error records, all reported), a late Ctrl-C while the
    process exits must not report it as interrupted."""
    code = (
        "import os, signal\n"
        "from toolkit import interrupts\n"
        "interrupts.install()\n"
        "interrupts.settle(3)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "raise SystemExit('not reached')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60, preexec_fn=_default_sigint
    )
    assert result.returncode == 3 and result.stderr == ""


def test_raising_turns_signals_into_keyboard_interrupt_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interrupts.raising():
        signal.raise_signal(signal.SIGTERM)
        pytest.fail("SIGTERM did not interrupt the block")
    assert signal.getsignal(signal.SIGTERM) is before


def test_raising_leaves_other_handlers_alone():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with interrupts.raising():
            signal.raise_signal(signal.SIGTERM)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_swallowed_keyboard_interrupt_is_raised_again(capsys):
    """Python cannot raise from a __del__ (or an at-fork hook): it prints "Exception ignored" and goes on. Inside
    raising() the interrupt is kept instead and raised at the next check, silently."""

    class Dropped:
        def __del__(self):
            raise KeyboardInterrupt

    hook = sys.unraisablehook
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.raising():
        Dropped()
        reached.append("after the swallowed interrupt")
        interrupts.check()
        reached.append("after check")
    assert reached == ["after the swallowed interrupt"]
    assert capsys.readouterr().err == ""
    # Outside the block nothing is pending and the hook is the one before.
    interrupts.check()
    assert sys.unraisablehook is hook


def test_deferred_holds_the_first_signal_until_check_and_lets_a_second_through():
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts.raising():
        with interrupts.deferred():
            signal.raise_signal(signal.SIGTERM)
            reached.append("in the step")
        reached.append("after the step")
        interrupts.check()
        reached.append("after check")
    assert reached == ["in the step", "after the step"]
    with pytest.raises(KeyboardInterrupt), interrupts.raising(), interrupts.deferred():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)  # the user insists
        pytest.fail("a second signal was held back too")
