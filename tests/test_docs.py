"""Every command has help and is shown in the README; the README opens with the two commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from toolkit.cli import app

README = (Path(__file__).parents[1] / "README.md").read_text()


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
