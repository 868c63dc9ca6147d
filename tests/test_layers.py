"""Imports run one way: each layer imports only itself and the layers below it, without circles.

Layers, from the top: ``cli -> ocs -> cc -> node -> validation -> message ->
dictionary -> codec``. The rest of the package is placed as follows:

- ``diameter`` (the package's ``__init__``: docstring and version, no imports) sits
  with ``codec``, at the bottom, so that any module may import it.
- ``diameter.jsonview`` (the JSON view of messages) sits with ``message``.
- ``diameter.demo`` and ``diameter.__main__`` (programs over the whole stack) sit with ``cli``.

No import may point up, not even a lazy one inside a function: a lower layer that
must reach a higher one offers a hook the higher one registers with when imported
(``diameter.dictionary.runtime.attach``, through which ``message`` and the JSON view
hand over the tables a run-time dictionary install fills).

The test reads every module's source (``ast``, nothing is imported) and checks:

1. **Direction.** Every import, wherever it is written (module level, inside a
   function, under ``if TYPE_CHECKING``), names a module of the same or a lower layer.
2. **No circles.** The graph of the imports that can run (module level, also inside
   ``try``/``if`` blocks, *and* inside function bodies; not ``if TYPE_CHECKING``
   blocks, which never run) has no cycle. A lazy import inside a function is fine
   when it points down a layer, or sideways to a module that does not import this
   one back: it breaks no circle by being lazy, it only hides one.

An import of a package counts as an import of its ``__init__``; ``from pkg import name``
counts as an import of ``pkg.name`` when that is a module, else of ``pkg``. A module's
implicit import of its parent packages is not counted (every ``__init__`` that
re-exports its submodules would otherwise be a circle).
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "diameter"

LAYERS = ["codec", "dictionary", "message", "validation", "node", "cc", "ocs", "cli"]
PLACED = {"diameter": "codec", "diameter.jsonview": "message", "diameter.demo": "cli",
          "diameter.__main__": "cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def layer_of(mod: str) -> int:
    if mod in PLACED:
        return LAYERS.index(PLACED[mod])
    parts = mod.split(".")
    assert parts[0] == "diameter" and len(parts) > 1, mod
    return LAYERS.index(parts[1])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(mod: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (outside the package: none)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "diameter"]
    if node.level:
        base = mod.split(".") if is_package else mod.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "diameter":
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def imports(mod: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, can run) for each import in ``mod`` (False: ``TYPE_CHECKING``)."""
    path = MODULES[mod]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    out: list[tuple[str, int, bool]] = []

    def walk(nodes: list[ast.stmt], eager: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                out.extend((t, node.lineno, eager) for t in _targets(mod, is_package, node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                walk(node.body, eager)
            elif isinstance(node, ast.If):
                walk(node.body, eager and not _is_type_checking(node.test))
                walk(node.orelse, eager)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        walk([n for n in inner if isinstance(n, ast.stmt)] +
                             [s for h in inner if isinstance(h, ast.ExceptHandler)
                              for s in h.body], eager)
    walk(tree.body, True)
    return out


def test_every_module_has_a_layer():
    for mod in MODULES:
        layer_of(mod)


def test_imports_point_down():
    wrong = []
    for mod in MODULES:
        for target, line, _eager in imports(mod):
            if layer_of(target) > layer_of(mod):
                wrong.append(f"{MODULES[mod].relative_to(SRC)}:{line}: {mod} "
                             f"({LAYERS[layer_of(mod)]}) imports {target} "
                             f"({LAYERS[layer_of(target)]})")
    assert not wrong, "imports that point up a layer:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph() -> dict[str, set[str]]:
    return {mod: {t for t, _line, eager in imports(mod) if eager and t != mod}
            for mod in MODULES}


def test_no_import_circles():
    cycles = _cycles(import_graph())
    assert not cycles, "modules that import each other:\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_star_imports_outside_generated_files():
    """``from x import *`` only in generated files (their first line says so)."""
    root = SRC.parent
    star = []
    for folder in (PACKAGE, root / "tests", root / "bench"):
        for path in sorted(folder.rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue  # a local virtualenv or cache (bench/.ref-venv), not the project's code
            text = path.read_text()
            if text.startswith("# Generated"):
                continue
            star += [f"{path.relative_to(root)}:{n.lineno}" for n in ast.walk(ast.parse(text))
                     if isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)]
    assert not star, "import * in hand-written code:\n" + "\n".join(star)


def test_the_checks_see_a_circle_and_an_upward_import():
    """The checker itself: made-up graphs with and without a circle, real edges."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert layer_of("diameter.cli.main") > layer_of("diameter.codec.wire")
    assert ("diameter.codec.frame", True) in {(t, run) for t, _l, run in
                                              imports("diameter.codec.typed")}
    # an import under TYPE_CHECKING never runs; one in a function body does
    assert ("diameter.dictionary.runtime", False) in {
        (t, run) for t, _l, run in imports("diameter.dictionary")}
    seen = {(t, run) for t, _l, run in imports("diameter.dictionary.runtime")}
    assert ("diameter.dictionary.source", True) in seen      # in load_toml's body
    assert ("diameter.dictionary.source", False) in seen     # under TYPE_CHECKING
    # the one upward import there was (lazy, in a function) is a sideways one now
    assert layer_of("diameter.dictionary.runtime") == layer_of("diameter.dictionary")
