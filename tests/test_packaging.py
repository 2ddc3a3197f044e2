"""essh installs only under `essh.`, and each component imports only what it may.

PyPI already has unrelated top-level packages named schema, planner and executor:
the wheel must not install any of them. The import rules keep the planner free of
SSH and trio, the executor free of Lua and the planner, and the schema free of both.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The typer CLI: its entry, its app and the modules of its commands.
CLI = ("essh.cli", "essh.cli_app", "essh.cli_files", *sorted(f"essh.{p.stem}" for p in (ROOT / "essh").glob("commands_*.py")))
SOURCES = ("pyproject.toml", "README.md", "essh", "schema", "planner", "executor")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the tree (the shared working tree is left untouched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (built,) = (tmp / "dist").glob("essh-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_wheel_installs_only_essh(wheel_names):
    top = {name.split("/", 1)[0] for name in wheel_names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"essh"}


def test_wheel_has_the_components_under_essh(wheel_names):
    for package in ("essh", "essh/schema", "essh/planner", "essh/executor"):
        assert f"{package}/__init__.py" in wheel_names
    assert "essh/schema/plan.py" in wheel_names
    assert "essh/planner/listsyntax.py" in wheel_names
    assert "essh/planner/prelude.lua" in wheel_names


def test_wheel_declares_the_console_script(wheel, wheel_names):
    entry_points = next(n for n in wheel_names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(entry_points).decode()
    assert "essh = essh.entry:main" in text


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute names; relative imports as `.name`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = "." * node.level + (node.module or "")
                found.update([base] if node.module else [base + alias.name for alias in node.names])
            else:
                found.add(node.module or "")
    return found


def _component_imports(folder: str) -> dict[str, set[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return {str(f.relative_to(ROOT)): _imports(f) for f in files}


def _offending(imports: dict[str, set[str]], forbidden: tuple[str, ...]) -> list[str]:
    """`path: imports name` for each forbidden import; `..` always leaves the component."""

    def bad(name: str) -> bool:
        if name.startswith("."):
            return name.startswith("..")
        return any(name == f or name.startswith(f + ".") for f in forbidden)

    return [f"{path}: imports {name}" for path, names in imports.items() for name in sorted(names) if bad(name)]


def test_planner_imports_neither_the_executor_nor_ssh():
    forbidden = ("essh.executor", "executor", "trio", "asyncssh", *CLI, "essh.__main__")
    assert _offending(_component_imports("planner"), forbidden) == []


def test_executor_imports_neither_the_planner_nor_lua():
    forbidden = ("essh.planner", "planner", "lupa", *CLI, "essh.__main__")
    assert _offending(_component_imports("executor"), forbidden) == []


def test_schema_imports_nothing_of_essh():
    forbidden = ("essh", "planner", "executor", "schema", "lupa", "trio", "asyncssh")
    assert _offending(_component_imports("schema"), forbidden) == []


def test_the_import_scan_sees_what_it_must(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "import trio\nfrom asyncssh import connect\nfrom ..executor import x\nfrom . import y\nimport lupa.lua54\n"
    )
    tree = {"m.py": _imports(path)}
    assert tree["m.py"] == {"trio", "asyncssh", "..executor", ".y", "lupa.lua54"}
    assert _offending(tree, ("trio", "asyncssh", "lupa")) == [
        "m.py: imports ..executor",
        "m.py: imports asyncssh",
        "m.py: imports lupa.lua54",
        "m.py: imports trio",
    ]
