"""Every command has help and is shown in the README; the README opens with the two commands; the CLI reference
in docs/cli.md is the commands' current --help; links between the docs lead somewhere."""

from __future__ import annotations

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
