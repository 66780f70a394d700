"""The house keeps the shape DESIGN.md draws (issue 14): core/, db/ and jobs/ import no Streamlit; no
two modules import each other round a circle; the operations engine knows no feature; and no reader
outside core/ledger spells an account or a debit/credit rule in its SQL.

Read from the source with ast and a regular expression: no import side effects, no I/O but reading files.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "db", "jobs", "app")


def modules(*packages: str) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def modules_of_pages() -> dict[str, Path]:
    return {f"pages.{path.stem}": path for path in sorted((ROOT / "pages").glob("*.py"))} | {
        "Home": ROOT / "Home.py"
    }


def imported(path: Path, *, top_level_only: bool) -> Iterator[str]:
    """Every module an import statement names (with `from x import y`, both x and x.y)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_core_db_and_jobs_import_no_streamlit() -> None:
    offenders = {
        name
        for name, path in modules("core", "db", "jobs").items()
        for target in imported(path, top_level_only=False)
        if target.split(".")[0] == "streamlit"
    }
    assert offenders == set(), "the Streamlit glue lives in app/"


def test_no_modules_import_each_other_round_a_circle() -> None:
    known = modules(*PACKAGES)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target in imported(path, top_level_only=True):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    # Tarjan's strongly connected components: any of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for following in graph[node]:
            if following not in index:
                visit(following)
                low[node] = min(low[node], low[following])
            elif following in stack:
                low[node] = min(low[node], index[following])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert circles == []


def test_the_operations_engine_knows_no_feature() -> None:
    """Kinds register with the engine (core.operations.kind); it imports no service but the audit."""
    features = {
        target
        for name, path in modules("core").items()
        if name.startswith("core.operations")
        for target in imported(path, top_level_only=False)
        if target.startswith("core.services.") and not target.startswith("core.services.audit")
    }
    assert features == set()


# An account compared in SQL text, or a debit/credit rule on the side column.
_SPELLED = re.compile(r"account\s*(=|IN)\s*\(?\s*'|side\s*=\s*'[DC]'", re.IGNORECASE)


def test_no_reader_outside_the_ledger_spells_an_account_or_a_side_in_sql() -> None:
    readers = {
        name: path
        for name, path in {**modules("core", "jobs", "app"), **modules_of_pages()}.items()
        if not name.startswith("core.ledger")
    }
    offenders = [
        f"{name}:{node.lineno}"
        for name, path in readers.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SPELLED.search(node.value)
    ]
    assert offenders == [], "figures come from core.ledger.read_model, the one place the rules live"


def test_the_checks_can_see_what_they_look_for() -> None:
    """Each check would fail on what it forbids: the patterns and the walk find real examples."""
    assert _SPELLED.search("SELECT sum(amount) FROM entries WHERE account = 'cash'")
    assert _SPELLED.search("CASE WHEN side = 'D' THEN amount ELSE -amount END")
    assert not _SPELLED.search("SELECT sum(amount) FROM pool_days WHERE line = 'called'")
    ledger_reads_accounts = [
        node
        for node in ast.walk(ast.parse((ROOT / "db" / "models.py").read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SPELLED.search(node.value)
    ]
    assert ledger_reads_accounts, "db/models.py's partial index spells an account: the walk finds it"
    assert "streamlit" in {
        t.split(".")[0] for t in imported(ROOT / "app" / "webapp.py", top_level_only=False)
    }
