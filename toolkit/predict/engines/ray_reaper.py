"""The reaper of a private Ray instance: a small process that outlives a killed driver and ends the Ray
processes the driver started, which would otherwise run on (the raylet's agents survive kill -9 of the driver).

The driver makes a folder of its own for the instance (Ray's temp dir, which every Ray process of the instance
names on its command line), starts the reaper on it before it starts Ray, and keeps a pipe to it open. The
reaper waits for that pipe to close, which happens both when the driver ends normally (after `ray.shutdown()`:
nothing is left to end; the driver says so, and the folder, logs and all, is removed) and when it is killed
(the folder is kept for its logs). It then ends, with SIGKILL, every process descended from the driver whose
command line names the folder (GCS, raylet, monitors), and all their descendants (agents, workers), as they
were seen in a look every half second while it waited, and as they are. It runs in a
session of its own, so the Ctrl-C that interrupts the driver does not reach it; it reads /proc, so it works
on Linux only (elsewhere it is not started).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
from typing import IO

CLEAN = b"clean"  # what the driver writes before it closes the pipe when it shut Ray down itself


def start(folder: str) -> subprocess.Popen | None:
    """The reaper for the Ray instance that will use `folder` as its temp dir (None where /proc is missing)."""
    if not os.path.isdir("/proc/self"):
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit.predict.engines.ray_reaper", folder, str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(reaper: subprocess.Popen | None, clean: bool = True) -> None:
    """The driver is done with Ray: after `ray.shutdown()` (`clean`), or after Ray failed to start. The reaper
    ends what is left and, when `clean`, removes the folder."""
    if reaper is not None:
        stdin: IO[bytes] | None = reaper.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):  # a reaper that is gone already
                if clean:
                    stdin.write(CLEAN)
                stdin.close()
        reaper.wait()


Process = tuple[int, int]  # (pid, start time in clock ticks since boot): a pid that was reused is another


def processes() -> dict[Process, tuple[int, bytes]]:
    """Every live process on the machine: (pid, start time) -> (parent pid, command line)."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                command = fh.read()
            parent, started = int(fields[1]), int(fields[19])
        except (OSError, ValueError, IndexError):  # gone meanwhile, or not ours to read
            continue
        if fields[0] == b"Z":  # dead already, waiting for a parent to reap it
            continue
        table[(int(name), started)] = (parent, command)
    return table


def descendants(roots: set[int], table: dict[Process, tuple[int, bytes]]) -> set[Process]:
    """The processes in `table` descended from the pids `roots` (not the roots themselves)."""
    found: set[Process] = set()
    pids = set(roots)
    grew = True
    while grew:
        grew = False
        for process, (parent, _) in table.items():
            if parent in pids and process not in found:
                found.add(process)
                pids.add(process[0])
                grew = True
    return found


def of_session(folder: str, table: dict[Process, tuple[int, bytes]], driver: int) -> set[Process]:
    """The processes of a Ray instance: the driver's descendants that name its folder (never another user's
    `tail -f` of its logs), and all their descendants."""
    marker = os.fsencode(folder)
    family = descendants({driver}, table)
    found = {process for process in family if marker in table[process][1]}
    found |= descendants({pid for pid, _ in found}, table)
    return {process for process in found if process[0] != os.getpid()}


def main(folder: str, driver: int, every: float = 0.5) -> None:
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    # Agents and workers are children of the raylet, which may die before the pipe is seen to close (they are
    # then nobody's children): they are noted while the family is whole, every `every` seconds.
    known: set[Process] = set()
    said = b""
    while True:
        known |= of_session(folder, processes(), driver)
        ready, _, _ = select.select([sys.stdin], [], [], every)
        if ready:
            data = os.read(sys.stdin.fileno(), 64)
            if not data:  # the driver closed the pipe or died
                break
            said += data
    now = processes()
    # The driver is gone or done: what it started is known; what those started since, found from them.
    for pid, started in known | descendants({pid for pid, _ in known}, now):
        if (pid, started) in now:  # still the same process, not a reused pid
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    if said == CLEAN:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
