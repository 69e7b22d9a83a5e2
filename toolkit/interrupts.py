"""Ctrl-C (SIGINT), SIGTERM and SIGHUP at any moment of a command: one line on stderr and exit code 130.

What an interrupt may cost depends on when it comes, so the handlers change with the phase:

- Start-up (`install()`, first thing in the entry point, before the CLI's imports): nothing to save, so the
  handler prints one line and exits at once. Without it an interrupt during an import prints a traceback, and
  a SIGTERM kills the process with no message at all.
- Work (`raising()`, around a command): the handlers raise KeyboardInterrupt in the main thread, so that the
  command saves its progress (predict commits its journal and says how to --resume) before the CLI turns the
  interrupt into its one-line message and 130. `deferred()` holds a first interrupt back over a step that must
  not be cut in the middle (starting a process pool); a second one goes through at once. A KeyboardInterrupt
  that Python swallows (raised in an at-fork hook or a `__del__`, it would print "Exception ignored" and be
  lost) is noted instead and raised again at the next `check()`.
- After the command (`settle(code)`): the outcome is decided and reported, so a late signal ends the process
  at once with that code, silently; and once the interpreter tears itself down (after the last atexit
  callback, when it puts back death by signal) signals are ignored.

A signal that was ignored when the process started (`nohup`, a background job of a script) stays ignored, as
Unix programs do. Handlers someone else installed (a notebook, a test runner) are left alone by `raising()`.
Only the interpreter's own start-up, before any toolkit code runs, is out of reach.
"""

from __future__ import annotations

# Only what is loaded anyway or costs next to nothing: this module is imported before the handlers are in place,
# and every millisecond spent here is one in which Ctrl-C gets Python's traceback instead (contextlib, for one,
# pulls in collections and functools: a few milliseconds). threading is imported where it is used.
import atexit
import os
import signal
import sys

EXIT_CODE = 130
MESSAGE = "error: interrupted"

_pending = False  # a KeyboardInterrupt that Python swallowed, to be raised again by check()
_installed = False


def _signals() -> list[int]:
    # SIGHUP (the terminal or the SSH session went away) is SIGTERM by another name. SIGTERM last: a test may take
    # "SIGTERM is caught" to mean every handler is in place.
    names = ("SIGINT", "SIGHUP", "SIGTERM")
    return [s for s in (getattr(signal, name, None) for name in names) if s is not None]


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _swap(replace: tuple, handler) -> dict:
    """Set `handler` for the signals (see `_signals`) where their handler is one of `replace`; the previous ones,
    to put back.
    Only the main thread may set handlers (and only it runs them)."""
    previous = {}
    if _in_main_thread():
        for signum in _signals():
            current = signal.getsignal(signum)
            if current in replace:
                previous[signum] = current
                signal.signal(signum, handler)
    return previous


def _restore(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _exit_now(signum, frame) -> None:
    # os.write and os._exit only: this can run in the middle of an import or of a write to sys.stderr, where a
    # buffered write would be a reentrant call and an exception would become a traceback.
    try:
        os.write(2, (MESSAGE + "\n").encode())
    finally:
        os._exit(EXIT_CODE)


def _raise(signum, frame) -> None:
    raise KeyboardInterrupt


def _defer(signum, frame) -> None:
    global _pending
    if _pending:  # the second time: the user insists
        raise KeyboardInterrupt
    _pending = True


def install() -> None:
    """Make SIGINT, SIGHUP and SIGTERM print one line and exit with 130 at once. Call it before the heavy imports."""
    global _installed
    _swap((signal.SIG_DFL, signal.default_int_handler), _exit_now)  # not SIG_IGN: see the module docstring
    if not _installed:
        # atexit runs callbacks last-registered first: registered this early, this one runs after all others.
        atexit.register(_ignore_during_teardown)
        _installed = True


def _ignore_during_teardown() -> None:
    for signum in _signals():
        if signal.getsignal(signum) not in (signal.SIG_IGN, signal.SIG_DFL, None):
            signal.signal(signum, signal.SIG_IGN)


def check() -> None:
    """Raise KeyboardInterrupt if one was swallowed or deferred since the last check (see the module docstring)."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


class raising:  # noqa: N801 - used like a function: `with interrupts.raising():`
    """Within the block SIGINT and SIGTERM raise KeyboardInterrupt, so that the work can save its progress, and a
    KeyboardInterrupt Python swallows is raised again by `check()` or at the end of the block.

    Only the default handlers and `install`'s are replaced, and they come back at the end. Outside the main
    thread (where Python runs no signal handler) this does nothing.
    """

    def __enter__(self) -> raising:
        self._previous = _swap((signal.SIG_DFL, signal.default_int_handler, _exit_now), _raise)
        self._hook = sys.unraisablehook
        if self._previous:
            sys.unraisablehook = _noting(self._hook)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        global _pending
        try:
            if exc_type is None:
                check()  # an interrupt swallowed in the block still ends it as interrupted
        finally:
            sys.unraisablehook = self._hook
            _pending = False
            _restore(self._previous)


class deferred:  # noqa: N801 - used like a function: `with interrupts.deferred():`
    """Within a `raising()` block: a first SIGINT or SIGTERM is only noted (the next `check()` raises it) and a
    second one raises at once. For steps that an exception in the middle leaves broken: a process pool whose
    workers are forked but whose manager thread is not started yet has workers nobody will stop, and the exit
    then waits for them forever."""

    def __enter__(self) -> deferred:
        check()
        self._previous = _swap((_raise,), _defer)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _restore(self._previous)


def settle(code: int) -> None:
    """Call once the command has its exit code, so that the process ends with `code` and nothing more on stderr.

    - From here on SIGINT and SIGTERM end the process at once, silently, with `code`: the command's outcome is
      decided and reported, and a late Ctrl-C (say, while the exit waits for worker processes) must not turn a
      finished run into an "interrupted" one.
    - CPython marks a KeyboardInterrupt that ends an eval() of a string as unhandled even when it is caught
      later (collections.namedtuple evals one, so an import can end that way), and `python -m` then kills the
      process with SIGINT at exit instead of exiting with its code. Evaluating a string again clears the mark.
    - The threads Python would wait for at exit anyway (the manager thread of a process pool an interrupted run
      shut down without waiting) are waited for here, while a Ctrl-C still exits at once: Python 3.11's exit
      hook for process pools races with that thread and can print an "Exception ignored" traceback (EBADF).
    """
    import threading

    _swap((_exit_now,), lambda signum, frame: os._exit(code))
    eval("None")
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()


def _noting(hook):
    """An unraisablehook that notes a swallowed KeyboardInterrupt (for check) and passes anything else on."""

    def unraisable(info) -> None:
        global _pending
        if isinstance(info.exc_value, KeyboardInterrupt):
            _pending = True
        else:
            hook(info)

    return unraisable
