"""The library's import graph: kamim_lib never imports the companion (kamim_paper), has no import circle, and
imports its own modules inside functions only where an optional heavy dependency (torch_xla) forces it.

The graph is read from the source with ``ast`` (imports inside functions included), not from ``sys.modules``, so a
hidden import cannot slip past it.
"""
import ast
from pathlib import Path

import kamim_lib

PACKAGE_DIR = Path(kamim_lib.__file__).resolve().parent
# Own-module imports allowed inside functions: each pulls in torch_xla, which only an XLA environment has.
LAZY_ALLOWED = {("kamim_lib.runtime.factory", "kamim_lib.runtime.xla"),
                ("kamim_lib.runtime.factory", "kamim_lib.runtime.xla_multiprocess")}
MAX_LAZY = 20


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """Yield (imported module, inside a function?) for every import statement of one source file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function |= {id(inner) for inner in ast.walk(node) if inner is not node}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in in_function
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                yield f"{module}.{alias.name}", id(node) in in_function


def _graph():
    modules = {_module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}
    edges, lazy, foreign = {name: set() for name in modules}, [], []
    for name, path in modules.items():
        for target, inside in _imports(path):
            if target.split(".")[0] == "kamim_paper":
                foreign.append((name, target))
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
                if inside:
                    lazy.append((name, target))
    return edges, lazy, foreign


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_library_never_imports_the_companion():
    _, _, foreign = _graph()
    assert foreign == []


def test_the_library_has_no_import_circle():
    edges, _, _ = _graph()
    assert _circles(edges) == []


def test_imports_inside_functions_are_only_for_optional_dependencies():
    _, lazy, _ = _graph()
    assert len(lazy) <= MAX_LAZY
    assert set(lazy) <= LAZY_ALLOWED, sorted(set(lazy) - LAZY_ALLOWED)


def test_the_circle_finder_finds_a_circle():
    # The checks above would pass vacuously if the finder never reported anything.
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
