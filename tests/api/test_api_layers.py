"""The service's layers (docs/ARCHITECTURE.md): routers and pages translate HTTP into the
services and back; no page imports a router; SQL stays out of routers and pages; the api
modules import each other without cycles."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(API.rglob("*.py")) if "migrations" not in p.parts}


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, anywhere in its body (a lazy import is still a dependency)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES)
    return out


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_no_page_imports_a_router():
    bad = {n: sorted(m for m in _imports(n, p) if _in(m, "api.routers"))
           for n, p in MODULES.items() if _in(n, "api.web")}
    assert not {n: v for n, v in bad.items() if v}


def test_routers_and_pages_hold_no_sql():
    bad = {n: sorted(m for m in _imports(n, p) if _in(m, "sqlalchemy") or m == "api.db")
           for n, p in MODULES.items() if _in(n, "api.routers") or _in(n, "api.web")}
    assert not {n: v for n, v in bad.items() if v}


def test_api_modules_import_each_other_without_cycles():
    graph = {n: {m for m in _imports(n, p) if m in MODULES and m != n} for n, p in MODULES.items()}
    # A package's __init__ re-exporting its submodules is not a cycle with them.
    graph = {n: {m for m in deps if not (n.startswith(m + ".") and MODULES[m].name == "__init__.py")}
             for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(n, stack):
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert not cycles
