"""Draw the package map in docs/ from the code (`make architecture`).

pydeps reads the imports of each package (statically; an import inside a function counts too). This
script collapses its module graph into packages, and `dot` (Graphviz) draws two pictures:

- docs/architecture.svg: the packages and `app.py`, an arrow from each one to each one it imports,
  labelled with how many module-to-module imports it stands for; the rows are the layers of the
  import-linter contract in pyproject.toml, and an arrow that goes up against them is drawn red;
- docs/architecture-callcenter.svg: the modules of `callcenter` and their imports, without the arrows
  that a longer path already implies (Graphviz's `tred`), so that the picture stays readable.

Run from the repository root with the project's virtualenv: `.venv/bin/python scripts/architecture.py`.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
APP = "app"  # the factory, a module of its own (app.py)
PACKAGES = ["callcenter", "ivr", "agents_ui", "portal", "ops", "emulator", "simulator", "bench"]
OURS = [APP, *PACKAGES]
DOMAIN = "callcenter"

FONT = 'fontname="Helvetica"'


def _pydeps(target: str) -> dict:
    """pydeps' module graph for one package (or app.py): {module: {"imports": [...], ...}}, ours only."""
    # Installed packages are not followed: only imports between our own modules are drawn, and
    # following flask, sqlalchemy and the rest takes pydeps ten times as long.
    theirs = sorted(set(importlib.metadata.packages_distributions()) - set(OURS))
    skip = [pattern for name in theirs for pattern in (name, f"{name}.*")]
    command = [sys.executable, "-m", "pydeps", target, "--show-deps", "--no-output", "--no-config",
               "--max-bacon", "0", "--only", *OURS, "-x", *skip]
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _package(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in OURS else None


def module_imports() -> dict[str, set[str]]:
    """Every module of ours and the modules of ours it imports."""
    imports: dict[str, set[str]] = defaultdict(set)
    for target in [f"{APP}.py", *PACKAGES]:
        for name, info in _pydeps(target).items():
            if name == "__main__" or _package(name) is None:
                continue
            imports[name].update(m for m in info.get("imports", ()) if _package(m) is not None)
    return imports


def layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, top first (each layer a list of packages); [] without one."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text()).get("tool", {}).get("importlinter", {})
    for contract in config.get("contracts", []):
        if contract.get("type") == "layers":
            return [[p.strip(" ()") for p in layer.replace(":", "|").split("|") if p.strip(" ()")]
                    for layer in contract.get("layers", [])]
    return []


def package_dot(imports: dict[str, set[str]]) -> str:
    edges = Counter((_package(a), _package(b)) for a, targets in imports.items() for b in targets
                    if _package(a) != _package(b))
    modules = Counter(_package(m) for m in imports if m.split(".")[-1] != "__main__")
    rows = layers()
    rank = {p: i for i, layer in enumerate(rows) for p in layer}
    caption = "An arrow from A to B: A imports B (how many module-to-module imports)."
    if rows:
        caption += " Rows: the layers that lint-imports checks; an arrow against them would be red."
    lines = [
        "digraph packages {",
        f'  graph [rankdir=TB, nodesep=0.5, ranksep=0.55, fontsize=11, {FONT}, label="{caption}", labelloc=b];',
        f"  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6fa\", color=\"#6b7a90\", {FONT}, "
        "fontsize=13];",
        f"  edge [color=\"#4a5568\", arrowsize=0.7, {FONT}, fontsize=10, fontcolor=\"#4a5568\"];",
    ]
    for package in OURS:
        if package not in modules:
            continue
        n = modules[package]
        what = "app.py" if package == APP else f"{package}/  ({n} module{'s' if n != 1 else ''})"
        fill = ' fillcolor="#e3ecfa", penwidth=1.6' if package == DOMAIN else ""
        isolated = not any(package in edge for edge in edges)
        note = "\\nimports nothing of the service" if isolated else ""
        lines.append(f'  "{package}" [label="{what}{note}"{fill}];')
    for layer in rows:
        present = [p for p in layer if p in modules]
        if len(present) > 1:
            lines.append("  { rank=same; " + " ".join(f'"{p}";' for p in present) + " }")
    for (a, b), count in sorted(edges.items()):
        against = a in rank and b in rank and rank[a] >= rank[b]
        style = ', color="#c53030", fontcolor="#c53030", penwidth=2' if against else ""
        lines.append(f'  "{a}" -> "{b}" [label=" {count}"{style}];')
    # Keep the layers in order top to bottom even where no arrow joins two neighbouring rows.
    for upper, lower in zip(rows, rows[1:], strict=False):
        u = [p for p in upper if p in modules]
        v = [p for p in lower if p in modules]
        if u and v:
            lines.append(f'  "{u[0]}" -> "{v[0]}" [style=invis];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def domain_dot(imports: dict[str, set[str]]) -> str:
    modules = sorted(m for m in imports if _package(m) == DOMAIN and m != DOMAIN)
    lines = [
        "digraph callcenter {",
        '  graph [rankdir=TB, nodesep=0.25, ranksep=0.45, fontsize=11, ' + FONT + ',',
        '         label="callcenter/: an arrow from A to B: A imports B '
        '(an import that a longer path already implies is not drawn).", labelloc=b];',
        f"  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e3ecfa\", color=\"#6b7a90\", {FONT}, "
        "fontsize=12];",
        '  edge [color="#4a5568", arrowsize=0.6];',
    ]
    lines += [f'  "{m}" [label="{m.split(".", 1)[1]}"];' for m in modules]
    lines += [f'  "{a}" -> "{b}";' for a in modules for b in sorted(imports[a]) if b in modules and b != a]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, svg: Path, reduce: bool = False) -> None:
    if reduce:
        dot_source = subprocess.run(["tred"], input=dot_source, check=True, capture_output=True, text=True).stdout
    svg.write_bytes(subprocess.run(["dot", "-Tsvg"], input=dot_source.encode(), check=True,
                                   capture_output=True).stdout)
    print(f"wrote {svg.relative_to(ROOT)}")


def main() -> None:
    imports = module_imports()
    render(package_dot(imports), DOCS / "architecture.svg")
    render(domain_dot(imports), DOCS / "architecture-callcenter.svg", reduce=True)


if __name__ == "__main__":
    main()
