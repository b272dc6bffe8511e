"""model/ is the bottom layer: it imports neither the service (api) nor training nor the command
line, and its modules import each other without cycles."""
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "model"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _model_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(MODEL.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """model modules that `name` imports anywhere in its body (function-level imports too: a
    lazy import is still a dependency, and a cycle through one is still a cycle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` depends on the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def test_model_modules_import_each_other_without_cycles():
    mods = _model_modules()
    graph = {n: _imports(n, p, set(mods)) for n, p in mods.items()}
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
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_cycle_finder_sees_a_lazy_import_cycle(tmp_path, monkeypatch):
    """The check above can fail: two modules importing each other, one of them lazily."""
    pkg = tmp_path / "model"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def f():\n    from .a import y\n")
    known = {"model", "model.a", "model.b"}
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _imports("model.b", pkg / "b.py", known) == {"model.a"}
    assert _imports("model.a", pkg / "a.py", known) == {"model.b"}


def test_importing_every_model_module_loads_no_service_training_or_cli_code():
    names = sorted(_model_modules())
    code = ("import importlib, json, sys\n"
            f"for n in {names!r}:\n    importlib.import_module(n)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('api', 'training', 'decision_screen'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "model.learned.tfidf" in names and "model.learned.transformer_modules" in names
