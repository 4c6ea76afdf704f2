"""The layout keeps its promises: a pure core, SQL only in the store, readable modules.

These read the source (with `ast`), so a change that breaks a rule of docs/architecture.md
fails here with the module and the import that broke it.
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Libraries that talk to a database, the network or a scheduler: never in the pure core.
IO_LIBRARIES = {
    "apscheduler",
    "fastapi",
    "github",
    "httpx",
    "prometheus_api_client",
    "psycopg",
    "requests",
    "smtplib",
    "socket",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "subprocess",
    "urllib.request",
}
# What a module outside the store may take from SQLAlchemy: handles and errors, no queries.
SQL_HANDLES = {"Session", "Engine", "Connection", "make_url"}
MAX_LINES = 310  # "about 300" (docs/architecture.md)
LONGEST_CHAIN = 10  # today's longest import chain: it may shrink, never grow


def modules(*folders: str) -> list[Path]:
    """Return the Python files under `folders` (migrations aside)."""
    found = []
    for folder in folders:
        found += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(found)


def runtime_imports(path: Path) -> list[tuple[str, list[str]]]:
    """Return (module, names) of every import that runs (not under TYPE_CHECKING)."""
    out: list[tuple[str, list[str]]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out.extend((a.name, []) for a in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    visit([n for n in inner if isinstance(n, ast.stmt | ast.ExceptHandler)])  # type: ignore[misc]

    visit(ast.parse(path.read_text()).body)
    return out


def name(path: Path) -> str:
    """Return the file's path from the repository root."""
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", modules("app/core"), ids=name)
def test_the_core_imports_nothing_with_io(path: Path) -> None:
    """`app/core/` is plain functions over plain data: no database, network or app layer."""
    for module, _ in runtime_imports(path):
        top = module.split(".")[0]
        assert top not in IO_LIBRARIES and module not in IO_LIBRARIES, f"{name(path)}: {module}"
        if top == "app":
            assert module.startswith("app.core."), f"{name(path)} imports {module}"
        if top == "connectors":
            assert module in {"connectors.base", "connectors.durations"}, module


@pytest.mark.parametrize(
    "path",
    [p for p in modules("app") if not name(p).startswith("app/store/")],
    ids=name,
)
def test_sql_lives_in_the_store(path: Path) -> None:
    """Outside `app/store/`, SQLAlchemy gives sessions, engines and errors, never queries."""
    for module, names in runtime_imports(path):
        if module.split(".")[0] in {"sqlalchemy", "sqlmodel"}:
            queries = [
                n for n in names if n not in SQL_HANDLES and not n.endswith(("Error", "Timeout"))
            ]
            assert not queries, f"{name(path)} takes {queries} from {module}"


@pytest.mark.parametrize("path", modules("app", "connectors"), ids=name)
def test_a_module_reads_in_one_sitting(path: Path) -> None:
    """No module of the service grows past about 300 lines."""
    assert len(path.read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("path", modules("connectors"), ids=name)
def test_connectors_never_import_the_service(path: Path) -> None:
    """A data source is usable without krtracker's service: `connectors/` never imports `app`."""
    assert all(module.split(".")[0] != "app" for module, _ in runtime_imports(path))


def test_import_chains_do_not_grow() -> None:
    """The longest chain of imports `app/` needs to run is no longer than it is today."""
    script = runpy.run_path(str(ROOT / "scripts" / "import_depth"))
    longest = script["longest_chains"](ROOT)[0]
    assert len(longest) <= LONGEST_CHAIN, " -> ".join(longest)
