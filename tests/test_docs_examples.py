"""Every Python example in the docs runs, as written, from the repository root (and its asserts hold)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXAMPLES = [
    (doc, n, code)
    for doc in sorted((ROOT / "docs").glob("*.md"))
    for n, code in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8")))
]


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("doc, n, code", EXAMPLES, ids=[f"{d.name}#{n}" for d, n, _ in EXAMPLES])
def test_example_runs(doc, n, code):
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{doc.name} example {n} failed:\n{done.stderr[-2000:]}"
