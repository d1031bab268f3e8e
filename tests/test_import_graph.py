"""No import cycles in router/: not between its top-level parts, not between the modules inside a part.

The graph is read from the source (every `import`, including those inside functions and under
TYPE_CHECKING), not from what happens to be loaded: a lazy import that closes a cycle still means a type or
a function lives in the wrong part. `from package import name` counts as importing the module `name` when
it is one, else the package itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "router"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(path): path for path in sorted(package.rglob("*.py"))}


def imported(name: str, path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    """The router modules `name` (at `path`) imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            found = [s for s in submodules if s in known]
            targets = found if found else [source]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("router.") and target != name:
                yield target


def part_of(name: str) -> str:
    """`router.usage.recorder` -> `usage`; modules at the top (`router.app`) are parts of their own."""
    return name.split(".")[1] if name.count(".") >= 1 else name


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def witnesses(edges: Mapping[str, set[str]], cycle: list[str]) -> list[str]:
    members = set(cycle)
    return sorted(
        f"{a} -> {b}" for a, targets in edges.items() for b in targets if a in members and b in members
    )


def test_no_cycle_between_the_parts_of_router() -> None:
    modules_graph = graph()
    parts: dict[str, set[str]] = {}
    evidence: dict[tuple[str, str], str] = {}
    for name, targets in modules_graph.items():
        for target in targets:
            a, b = part_of(name), part_of(target)
            if a != b:
                parts.setdefault(a, set()).add(b)
                evidence.setdefault((a, b), f"{name} -> {target}")
    problems = []
    for cycle in cycles(parts):
        members = set(cycle)
        lines = [line for (a, b), line in sorted(evidence.items()) if a in members and b in members]
        problems.append(f"parts {cycle}: " + "; ".join(lines))
    assert not problems, "\n".join(problems)


def test_no_cycle_between_the_modules_of_a_part() -> None:
    modules_graph = graph()
    inside = {
        name: {t for t in targets if part_of(t) == part_of(name)} for name, targets in modules_graph.items()
    }
    problems = [f"{cycle}: " + "; ".join(witnesses(inside, cycle)) for cycle in cycles(inside)]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_a_cycle_closed_by_a_function_local_import(tmp_path: Path) -> None:
    """The test above can fail: a lazy import inside a function that closes a loop is found."""
    package = tmp_path / "router"
    (package / "alpha").mkdir(parents=True)
    (package / "beta").mkdir()
    for init in ("__init__.py", "alpha/__init__.py", "beta/__init__.py"):
        (package / init).write_text("")
    (package / "alpha" / "one.py").write_text("from router.beta.two import thing\n")
    (package / "beta" / "two.py").write_text(
        "def thing():\n    from router.alpha import one\n    return one\n"
    )
    known = {module_name(p, tmp_path): p for p in package.rglob("*.py")}
    edges = {name: set(imported(name, path, known)) for name, path in known.items()}
    assert cycles(edges) == [["router.alpha.one", "router.beta.two"]]
