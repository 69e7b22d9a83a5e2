"""Atomic writes: the umask decides the mode, failures name the file and leave no temp file behind."""

from __future__ import annotations

import errno
import os

import pytest

from toolkit import fsutil
from toolkit.errors import os_error_line


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic = fsutil.write_json(tmp_path / "a.json", {"x": 1})
        with open(tmp_path / "plain.json", "w") as fh:
            fh.write("{}")
    finally:
        os.umask(previous)
    assert atomic.stat().st_mode & 0o777 == mode == (tmp_path / "plain.json").stat().st_mode & 0o777


def test_a_full_disk_names_the_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as info:
        fsutil.write_text(tmp_path / "report.json", "{}")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "report.json")
    assert list(tmp_path.iterdir()) == []


def test_naming_keeps_a_file_name_the_error_already_has(tmp_path):
    with pytest.raises(FileNotFoundError) as info, fsutil.naming(tmp_path / "other"):
        open(tmp_path / "missing")
    assert info.value.filename == str(tmp_path / "missing")


def test_os_error_lines_say_what_is_wrong():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out.csv")
    assert os_error_line(full) == (
        "/data/out.csv: the disk is full (No space left on device); free some space and run it again"
    )
    quota = OSError(errno.EDQUOT, "Disk quota exceeded", "/home/me/out.csv")
    assert "the disk is full (Disk quota exceeded)" in os_error_line(quota, "retry")
    denied = PermissionError(errno.EACCES, "Permission denied", "/data/out.csv")
    assert os_error_line(denied) == "/data/out.csv: Permission denied; check the path and its permissions"
    assert "disk is full" not in os_error_line(denied)


def test_silenced_stderr_hides_what_native_code_writes_and_restores_the_descriptor(capfd):
    import os

    from toolkit.fsutil import silenced_stderr

    with silenced_stderr():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
