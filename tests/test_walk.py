"""Discovery: lazy, ordered, never opening what could block or loop, filters, stdin lists, odd names."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest

from toolkit.errors import UsageError
from toolkit.predict.walk import Walker, check_inputs, count_files, safe_path


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def paths(walker: Walker) -> list[str]:
    return [f.path for f in walker]


def test_nested_folders_in_name_order_with_image_extensions_only(tmp_path):
    for name in ("b.png", "a.JPG", "c.TIFF", "notes.txt", "sub/z.bmp", "sub/deeper/y.gif", "a2/x.webp", ".hidden.png"):
        touch(tmp_path / name)
    walker = Walker([str(tmp_path)])
    found = [os.path.relpath(p, tmp_path) for p in paths(walker)]
    assert found == [".hidden.png", "a.JPG", "b.png", "c.TIFF", "a2/x.webp", "sub/z.bmp", "sub/deeper/y.gif"]
    assert walker.skipped == {"not-an-image-name": 1}


def test_walk_is_lazy(tmp_path, monkeypatch):
    for i in range(5):
        touch(tmp_path / f"d{i}" / "x.png")
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda folder: listed.append(os.path.basename(folder)) or scandir(folder))
    iterator = iter(Walker([str(tmp_path)]))
    first = next(iterator)
    assert first.path.endswith("d0/x.png")
    # The first file comes before the later folders are even listed.
    assert listed == [tmp_path.name, "d0"]
    assert [os.path.relpath(f.path, tmp_path) for f in iterator] == [f"d{i}/x.png" for i in range(1, 5)]
    assert listed == [tmp_path.name] + [f"d{i}" for i in range(5)]


def test_folder_named_like_an_image_is_walked(tmp_path):
    touch(tmp_path / "x.png" / "inner.png")
    assert paths(Walker([str(tmp_path)])) == [str(tmp_path / "x.png" / "inner.png")]


def test_fifos_and_sockets_are_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "sock.png"))
        touch(tmp_path / "ok.png")
        walker = Walker([str(tmp_path)])
        assert paths(walker) == [str(tmp_path / "ok.png")]
        assert walker.skipped == {"fifo": 1, "socket": 1}
        # Named explicitly, still skipped rather than opened.
        walker = Walker([str(tmp_path / "pipe.png")])
        assert paths(walker) == [] and walker.skipped == {"fifo": 1}
    finally:
        sock.close()


def test_symlinks_skipped_unless_followed_and_loops_detected(tmp_path):
    touch(tmp_path / "real" / "a.png")
    os.symlink(tmp_path / "real" / "a.png", tmp_path / "link.png")
    os.symlink(tmp_path / "real", tmp_path / "linkdir")
    os.symlink(tmp_path, tmp_path / "real" / "loop")  # points back up: a cycle
    os.symlink(tmp_path / "missing.png", tmp_path / "broken.png")
    os.symlink("/dev/null", tmp_path / "null.png")

    walker = Walker([str(tmp_path)])
    assert paths(walker) == [str(tmp_path / "real" / "a.png")]
    assert walker.skipped == {"symlink": 5}

    walker = Walker([str(tmp_path)], follow_symlinks=True)
    found = paths(walker)
    # The file via its link, and once via whichever of linkdir/real comes first; the other one and the
    # loop back to the top are not walked again.
    assert sorted(os.path.relpath(p, tmp_path) for p in found) == ["link.png", "linkdir/a.png"]
    assert walker.skipped["folder-seen-twice"] == 1  # real, already walked as linkdir
    assert walker.skipped["symlink-loop"] == 1  # linkdir/loop, back to the top
    assert walker.skipped["broken-symlink"] == 1 and walker.skipped["device"] == 1


def test_include_and_exclude(tmp_path):
    for name in ("a.png", "b.dat", "skip/c.png", "keep/d.png", "keep/e.PNG"):
        touch(tmp_path / name)
    assert [os.path.relpath(p, tmp_path) for p in paths(Walker([str(tmp_path)], exclude=["skip"]))] == [
        "a.png",
        "keep/d.png",
        "keep/e.PNG",
    ]
    assert paths(Walker([str(tmp_path)], include=["*.dat"])) == [str(tmp_path / "b.dat")]
    assert len(paths(Walker([str(tmp_path)], exclude=["*.png"]))) == 0
    assert paths(Walker([str(tmp_path)], include=["keep/*"], exclude=["*e.png"])) == [str(tmp_path / "keep/d.png")]


def test_globs_and_explicit_files(tmp_path):
    for name in ("a.png", "b.png", "c.txt", "sub/d.png"):
        touch(tmp_path / name)
    found = paths(Walker([str(tmp_path / "*.png"), str(tmp_path / "c.txt")]))
    assert found == [str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "c.txt")]
    assert paths(Walker([str(tmp_path / "**" / "d.png")])) == [str(tmp_path / "sub" / "d.png")]


def test_stdin_list(tmp_path):
    touch(tmp_path / "a.png")
    touch(tmp_path / "dir" / "b.png")
    lines = f"{tmp_path / 'a.png'}\n\n{tmp_path / 'dir'}\n{tmp_path / 'gone.png'}\n".encode()
    found = list(Walker(["-"], stdin=io.BytesIO(lines)))
    assert [f.path for f in found] == [
        str(tmp_path / "a.png"),
        str(tmp_path / "dir" / "b.png"),
        str(tmp_path / "gone.png"),
    ]
    assert found[2].error == ("missing", "no such file")


def test_overlapping_inputs_walk_each_folder_once(tmp_path):
    touch(tmp_path / "a" / "x.png")
    touch(tmp_path / "a" / "b" / "y.png")
    walker = Walker([str(tmp_path / "a"), str(tmp_path / "a" / "b")])
    assert len(paths(walker)) == 2 and walker.skipped == {"folder-seen-twice": 1}


def test_a_file_named_and_inside_a_walked_folder_is_found_once(tmp_path):
    touch(tmp_path / "a.png")
    touch(tmp_path / "b.png")
    for order in ([str(tmp_path), str(tmp_path / "a.png")], [str(tmp_path / "a.png"), str(tmp_path)]):
        walker = Walker(order)
        assert sorted(paths(walker)) == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
        assert walker.skipped == {"named-twice": 1}


def test_a_file_named_twice_or_by_a_glob_too_is_found_once_and_a_stdin_list_is_taken_line_by_line(tmp_path):
    """Only a named file met again in a walked folder was found once: `a.png ./a.png`, a glob and a name, a
    folder and a glob over it (either order) gave a record each time, and a later --resume kept them all."""
    touch(tmp_path / "a.png")
    touch(tmp_path / "b.png")
    a, b, star = str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "*.png")
    dotted = os.path.join(str(tmp_path), ".", "a.png")
    for inputs, expected, twice in (
        ([a, a, dotted], [a], 2),
        ([star, a], [a, b], 1),
        ([str(tmp_path), star], [a, b], 2),
        ([star, str(tmp_path)], [a, b], 2),
    ):
        walker = Walker(inputs)
        assert sorted(paths(walker)) == expected, inputs
        assert walker.skipped == {"named-twice": twice}, inputs
    # A list on stdin is taken as given, one record a line (it may hold millions: no set of them is kept).
    walker = Walker(["-"], stdin=io.StringIO(f"{a}\n{a}\n"))
    assert paths(walker) == [a, a]


def test_very_deep_tree(tmp_path):
    folder = tmp_path
    for _ in range(300):
        folder = folder / "d"
    touch(folder / "deep.png")
    assert paths(Walker([str(tmp_path)])) == [str(folder / "deep.png")]


def test_odd_names(tmp_path):
    names = [
        b"comma,name.png",
        b'quote"name.png',
        b"new\nline.png",
        b"latin1-\xe9.png",
        b"=SUM(A1).png",
        b"@cmd.png",
        b"[red]x.png",
    ]
    for name in names:
        touch(Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + name)))
    found = paths(Walker([str(tmp_path)]))
    assert len(found) == len(names)
    assert all(os.path.exists(p) for p in found)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        relative = paths(Walker(["=SUM(A1).png", "."]))
    finally:
        os.chdir(cwd)
    assert relative[0] == "./=SUM(A1).png"


def test_safe_path():
    assert safe_path("=1+1.png") == "./=1+1.png"
    assert safe_path("-x.png") == "./-x.png"
    assert safe_path("/abs/=x.png") == "/abs/=x.png"
    assert safe_path("scans/a.png") == "scans/a.png"


def test_check_inputs(tmp_path):
    touch(tmp_path / "a.png")
    check_inputs([str(tmp_path), str(tmp_path / "*.png"), "-"])
    with pytest.raises(UsageError, match="no such file or folder"):
        check_inputs([str(tmp_path / "nope")])
    with pytest.raises(UsageError, match="no files match"):
        check_inputs([str(tmp_path / "*.gif")])


def test_count_files(tmp_path):
    for i in range(7):
        touch(tmp_path / f"{i}.png")
    assert count_files([str(tmp_path)]) == 7


def test_glob_matches_come_sorted_as_a_shell_gives_them(tmp_path, monkeypatch):
    import glob

    names = ["c.png", "a.png", "b10.png", "b2.png"]
    for name in names:
        touch(tmp_path / name)
    iglob = glob.iglob
    # The file system's order, whatever it is, made the worst case: reversed.
    monkeypatch.setattr(glob, "iglob", lambda pattern, **kw: iter(sorted(iglob(pattern, **kw), reverse=True)))
    found = [os.path.basename(p) for p in paths(Walker([str(tmp_path / "*.png")]))]
    assert found == ["a.png", "b10.png", "b2.png", "c.png"]
    # Past the sort limit a glob streams, as a huge folder does: every match once, in the order found.
    streamed = [os.path.basename(p) for p in paths(Walker([str(tmp_path / "*.png")], sort_limit=2))]
    assert streamed == ["c.png", "b2.png", "b10.png", "a.png"]


def test_a_glob_in_the_outputs_folder_never_takes_the_run_s_own_files(tmp_path):
    """`predict '*' --out preds.csv` in the scans' folder: the glob named the run's lock, and on a resume its
    output and sidecars, as inputs (error records for each)."""
    touch(tmp_path / "a.png")
    out = tmp_path / "preds.csv"
    for name in ("preds.csv", "preds.csv.lock", "preds.csv.meta.json", "preds.csv.sources", "preds.csv.partial"):
        touch(tmp_path / name)
    touch(tmp_path / "preds.csv-notes.txt")  # not a sidecar: taken, as the glob names it
    walker = Walker([str(tmp_path / "*")], output=str(out))
    assert sorted(paths(walker)) == [str(tmp_path / "a.png"), str(tmp_path / "preds.csv-notes.txt")]
    assert walker.skipped == {"own-output": 5}
    assert len(paths(Walker([str(tmp_path / "*")]))) == 7  # without an output to spare, all of them
