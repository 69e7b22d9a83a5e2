"""The shape of the `toolkit` package, read from its source with `ast` (nothing of it is imported, so these
checks stay fast and run without the heavy dependencies): no module uses another module's private names, the
imports between its modules form no circle, and no module grows past MAX_LINES."""

from __future__ import annotations

import ast
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 450


@dataclass(frozen=True)
class Import:
    """One thing an import statement brings in from a module of the package."""

    line: int
    target: str  # the module the statement runs
    name: str | None  # the name taken from `target` (`from target import name`); None: the module itself
    binds: tuple[str, str] | None  # (local name, the module it then stands for), when it stands for one


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run, at module level or inside functions. The bodies of `if TYPE_CHECKING:` are
    left out: they never run, so they cannot close a circle at import time."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


class Package:
    """The modules of the package `name` under `root`, by dotted name, and what they import from each other."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name
        self.modules = {self._name_of(path): path for path in sorted((root / name).rglob("*.py"))}
        self._trees: dict[str, ast.Module] = {}
        self._imports: dict[str, tuple[Import, ...]] = {}

    def _name_of(self, path: Path) -> str:
        parts = path.relative_to(self.root).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def where(self, module: str, line: int | None = None) -> str:
        path = str(self.modules[module].relative_to(self.root))
        return path if line is None else f"{path}:{line}"

    def tree(self, module: str) -> ast.Module:
        if module not in self._trees:
            path = self.modules[module]
            self._trees[module] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        return self._trees[module]

    def _longest_module(self, dotted: str) -> str | None:
        """The longest prefix of `dotted` that is a module of the package (`pkg.a.b.C` -> `pkg.a.b`)."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if (candidate := ".".join(parts[:end])) in self.modules:
                return candidate
        return None

    def _absolute(self, module: str, node: ast.ImportFrom) -> str:
        """The module an import-from names, relative imports resolved against `module`'s package."""
        if not node.level:
            return node.module or ""
        anchor = module.split(".")
        if self.modules[module].name != "__init__.py":
            anchor = anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        return ".".join(anchor + ([node.module] if node.module else []))

    def imports(self, module: str) -> tuple[Import, ...]:
        """What `module` imports from the package, wherever the import statement stands."""
        if module in self._imports:
            return self._imports[module]
        found = []
        for node in _runtime_nodes(self.tree(module)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if (target := self._longest_module(alias.name)) is not None:
                        # `import pkg.a.b` binds `pkg`; `import pkg.a.b as m` binds `m` to pkg.a.b.
                        binds = (alias.asname, target) if alias.asname else (self.name, self.name)
                        found.append(Import(node.lineno, target, None, binds))
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(module, node)
                for alias in node.names:
                    if (submodule := f"{base}.{alias.name}") in self.modules:
                        found.append(Import(node.lineno, submodule, None, (alias.asname or alias.name, submodule)))
                    elif base in self.modules:
                        found.append(Import(node.lineno, base, alias.name, None))
        self._imports[module] = tuple(sorted(found, key=lambda i: i.line))
        return self._imports[module]

    def private_uses(self, module: str) -> list[str]:
        """Where `module` takes a private name from another module of the package: `from pkg.x import _y`, or
        `_y` read as an attribute of a name bound to another module (`x._y`, `pkg.x._y`)."""
        found = [
            (i.line, f"{self.where(module, i.line)} imports {i.target}.{i.name}")
            for i in self.imports(module)
            if i.name is not None and _is_private(i.name) and i.target != module
        ]
        # Names bound to modules by any import in the file, whatever the scope: a function that rebinds such a
        # name to something else could be misread, which would show as a false alarm, never as a miss.
        bound = dict(i.binds for i in self.imports(module) if i.binds is not None)
        for node in _runtime_nodes(self.tree(module)):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            parts = _dotted(node.value)
            if parts is None or parts[0] not in bound:
                continue
            owner = ".".join([bound[parts[0]], *parts[1:]])
            if owner in self.modules and owner != module:
                found.append((node.lineno, f"{self.where(module, node.lineno)} uses {owner}.{node.attr}"))
        return [text for _, text in sorted(found)]

    @cached_property
    def graph(self) -> dict[str, list[str]]:
        return {m: sorted({i.target for i in self.imports(m)} - {m}) for m in self.modules}

    def circles(self) -> list[list[str]]:
        """The strongly connected groups of two or more modules in the import graph (Tarjan's algorithm,
        iterative), each sorted: one group holds every circle through its modules."""
        graph = self.graph
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        groups = []
        for root in graph:
            if root in index:
                continue
            index[root] = low[root] = len(index)
            stack.append(root)
            work = [(root, iter(graph[root]))]
            while work:
                node, edges = work[-1]
                for nxt in edges:
                    if nxt not in index:
                        index[nxt] = low[nxt] = len(index)
                        stack.append(nxt)
                        work.append((nxt, iter(graph[nxt])))
                        break
                    if nxt in stack:
                        low[node] = min(low[node], index[nxt])
                else:
                    work.pop()
                    if work:
                        low[work[-1][0]] = min(low[work[-1][0]], low[node])
                    if low[node] == index[node]:
                        group = stack[stack.index(node) :]
                        del stack[stack.index(node) :]
                        if len(group) > 1:
                            groups.append(sorted(group))
        return sorted(groups)

    def describe(self, group: list[str]) -> str:
        """A circle's modules and the import statements that join them."""
        edges = [
            f"    {self.where(m, i.line)} imports {i.target}"
            for m in group
            for i in self.imports(m)
            if i.target in group and i.target != m
        ]
        return " <-> ".join(group) + "\n" + "\n".join(dict.fromkeys(edges))


TOOLKIT = Package(ROOT, "toolkit")


def test_no_module_uses_another_modules_private_names():
    offenders = [use for module in TOOLKIT.modules for use in TOOLKIT.private_uses(module)]
    assert not offenders, "private names used across toolkit modules:\n" + "\n".join(offenders)


def test_toolkit_modules_import_each_other_in_no_circle():
    found = TOOLKIT.circles()
    assert not found, "import circles (module-level and function-level imports):\n" + "\n".join(
        TOOLKIT.describe(group) for group in found
    )


def test_no_module_is_longer_than_the_limit():
    lengths = {m: len(path.read_text(encoding="utf-8").splitlines()) for m, path in TOOLKIT.modules.items()}
    offenders = [f"{TOOLKIT.where(m)}: {n} lines" for m, n in lengths.items() if n > MAX_LINES]
    assert not offenders, f"modules over {MAX_LINES} lines:\n" + "\n".join(offenders)


def test_the_checks_see_the_package():
    # Checks that read nothing would pass too.
    assert len(TOOLKIT.modules) > 20
    assert "toolkit.imaging.segment" in TOOLKIT.graph["toolkit.imaging.normalise"]


def test_the_checks_find_planted_faults(tmp_path):
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n\n_hidden = 1\n",
        "b.py": "def f():\n    from pkg.a import _hidden\n\n    return _hidden\n",
        "c.py": "import pkg.a\nimport pkg.b as bee\n\nX = pkg.a._hidden + bee._g\n",
        "sub/__init__.py": "from . import d\n",
        "sub/d.py": "import typing\n\nif typing.TYPE_CHECKING:\n    from pkg.sub import e\nfrom ..a import _hidden\n",
        "sub/e.py": "from pkg.sub import d\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    planted = Package(tmp_path, "pkg")
    assert planted.private_uses("pkg.b") == ["pkg/b.py:2 imports pkg.a._hidden"]
    assert planted.private_uses("pkg.c") == ["pkg/c.py:4 uses pkg.a._hidden", "pkg/c.py:4 uses pkg.b._g"]
    assert planted.private_uses("pkg.sub.d") == ["pkg/sub/d.py:5 imports pkg.a._hidden"]
    # a <-> b through a function-level import; d -> e only under TYPE_CHECKING, so no circle there.
    assert planted.circles() == [["pkg.a", "pkg.b"]]
    assert "pkg/b.py:2 imports pkg.a" in planted.describe(["pkg.a", "pkg.b"])


# What the repository's root holds: the layout the project promises, and the few files that run it.
ROOT_ENTRIES = {
    "toolkit",
    "scripts",
    "artifacts",
    "tests",
    "docs",
    "pyproject.toml",
    "README.md",
    "Makefile",
    "constraints.txt",
    ".ci",
    ".gitignore",
}


def test_the_repository_root_holds_only_the_promised_layout():
    # A run's output committed at the root by mistake (a Ray dataset folder once was) shows up here.
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top = {line.split("/", 1)[0] for line in tracked.splitlines() if line}
    assert top - ROOT_ENTRIES == set(), f"unexpected entries at the repository root: {sorted(top - ROOT_ENTRIES)}"
    assert {"toolkit", "scripts", "artifacts", "tests", "pyproject.toml", "README.md"} <= top
