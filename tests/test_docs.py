"""Every command has help and is shown in the README; the README opens with the two commands; the CLI reference
in docs/cli.md is the commands' current --help; links between the docs lead somewhere; the README's demo output
and the column lists in the docs are what the code prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from toolkit.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def command_paths() -> list[list[str]]:
    group = typer.main.get_group(app)
    paths = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            paths += [[name, sub] for sub in subcommands]
        else:
            paths.append([name])
    return paths


def test_readme_opens_with_the_two_commands():
    head = "\n".join(README.splitlines()[:40])
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p))
def test_command_has_help_and_is_in_readme(cli, path):
    result = cli(*path, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout
    assert f"mnist-toolkit {' '.join(path)}" in README, f"README does not show `mnist-toolkit {' '.join(path)}`"


def test_every_test_named_in_the_guarantees_exists():
    """docs/guarantees.md names the test behind each promise; a renamed or deleted test must not leave it stale."""
    import re

    root = Path(__file__).parents[1]
    named = re.findall(r"`(tests/test_\w+\.py)::(\w+)`", (root / "docs" / "guarantees.md").read_text())
    assert len(named) > 20
    missing = [f"{f}::{t}" for f, t in named if not re.search(rf"^def {t}\(", (root / f).read_text(), re.M)]
    assert missing == []


def test_cli_reference_matches_the_help():
    # A fresh process: the script fixes the terminal width and colour before Typer and Rich are imported.
    done = subprocess.run(
        [sys.executable, "scripts/gen_cli_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (
        "docs/cli.md no longer matches the commands' --help; regenerate it with `python scripts/gen_cli_docs.py`"
        f" and commit it:\n{done.stderr or done.stdout}"
    )


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    heads = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.DOTALL), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
)
def test_relative_links_lead_somewhere(page):
    source = ROOT / page
    text = source.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (source.parent / path).resolve() if path else source
        assert linked.exists(), f"{page} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), f"{page} links to {target}: no such heading"


def test_cli_reference_wraps_whole_paragraphs():
    """A line of help prose ends only where the next word would not fit: never mid-sentence at a docstring's own
    line break, and no boolean flag shows a value placeholder."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_cli_docs import WIDTH, parse

    helps = parse((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    short = []
    for name, text in helps.items():
        assert "<bool>" not in text, f"{name}: a flag shows <bool>"
        lines = text.splitlines()
        for line, following in zip(lines, lines[1:], strict=False):
            # Prose is indented two spaces; a definition ("models    List every...") is a term, then a gap.
            prose = line.startswith("  ") and not line.startswith("   ") and not re.match(r"  \S.*?\S {2,}\S", line)
            continued = following.startswith("  ") and not following.startswith("   ") and following.strip()
            if prose and continued and len(line) + 1 + len(following.split()[0]) <= WIDTH - 2:
                short.append(f"{name}: {line.strip()!r}")
    assert short == []


def _fenced(markdown: str, first_line: str) -> list[str]:
    """The lines of the fenced block whose first line starts with `first_line`."""
    start = markdown.index("```text\n" + first_line) + len("```text\n")
    return markdown[start : markdown.index("\n```", start)].splitlines()


def test_readme_demo_output_is_what_the_demo_prints(tmp_path):
    """Every line the README shows of `make demo`'s run is in a fresh run's output, in that order (rows left out
    are `...`; the timing is the machine's)."""
    shown = _fenced(README, "$ mnist-toolkit predict artifacts/samples")
    command = shown.pop(0).removeprefix("$ mnist-toolkit ").split()
    assert command == ["predict", "artifacts/samples", "--out", "artifacts/runs/demo/predictions.csv", "--table"]
    out = tmp_path / "predictions.csv"
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", *command[:3], str(out), *command[4:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    timing = re.compile(r" in [\d.]+ s, [\d,]+ files/s")

    def norm(line: str) -> str:
        return timing.sub(" in T s, R files/s", line.strip()).replace(str(out), "artifacts/runs/demo/predictions.csv")

    fresh = [norm(line) for line in (done.stdout + done.stderr).splitlines()]
    position = 0
    for line in shown:
        if line.startswith("│ ...") or not line.strip():
            continue
        assert norm(line) in fresh[position:], f"the README shows {line.strip()!r}; a fresh run does not print it"
        position = fresh.index(norm(line), position) + 1
    # The CSV example: the header in full, the first row as far as its figures are stable across machines.
    header, row = README[README.index("\npath,status,digit") + 1 :].splitlines()[:2]
    written = out.read_text(encoding="utf-8").splitlines()
    assert header == _columns_as_csv()
    fields, real = row.split(","), written[1].split(",")
    assert fields[:3] == real[:3] and round(float(fields[3]), 4) == round(float(real[3]), 4)
    assert fields[-5:] == real[-5:]


def _base_columns() -> list[str]:
    from toolkit.predict.records import COLUMNS

    return [c.name for c in COLUMNS if c.option is None]


def _columns_as_csv() -> str:
    return ",".join(c for c in _base_columns() if c not in {f"prob_{d}" for d in range(1, 9)}).replace(
        "prob_0,prob_9", "prob_0,...,prob_9"
    )


def _columns_as_prose(ellipsis: str) -> str:
    names = ", ".join(_base_columns())
    return re.sub(r"prob_0, .*prob_9", f"prob_0{ellipsis}prob_9", names)


def test_docs_list_the_columns_the_code_writes():
    from toolkit.predict.records import COLUMNS

    optional = [c.name for c in COLUMNS if c.option is not None]
    api = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    listed = re.search(r"keys in column order — `([^`]+)`, then `([^`]+)` when asked for", api, re.DOTALL)
    assert listed, "docs/python-api.md no longer lists the keys in column order"
    assert " ".join(listed.group(1).split()) == _columns_as_prose(" … ")
    assert " ".join(listed.group(2).split()) == ", ".join(optional)
    # docs/predict.md's table of columns: one row per column (or group), in order.
    page = (ROOT / "docs" / "predict.md").read_text(encoding="utf-8")
    table = page[page.index("Columns, in order:") :].split("\n\n")[1]
    names = []
    for row in table.splitlines()[2:]:
        names += re.findall(r"`(\w+)`", row.split("|")[1])
    expanded = names[: names.index("prob_0")] + [f"prob_{d}" for d in range(10)] + names[names.index("prob_9") + 1 :]
    assert expanded == [c.name for c in COLUMNS]
    # The predict --help (and so docs/cli.md) and the package's docstring.
    import toolkit.predict

    for where, text in (
        ("docs/cli.md", (ROOT / "docs" / "cli.md").read_text()),
        ("toolkit.predict", toolkit.predict.__doc__),
    ):
        flat = " ".join((text or "").split())
        assert _columns_as_prose("..") in flat, f"{where} does not list the columns as the code writes them"
