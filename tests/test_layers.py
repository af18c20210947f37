"""Every layer's import contract, read from the architecture page of the docs.

docs/user_guide/architecture.md holds a table: for each layer, the sbt_sklearn layers it may
import, the third-party packages it may import at import time, and those it may import inside
functions only. These tests check every module of the package against it, statically (every
import statement, including those inside functions) and at run time (a fresh interpreter imports
the layer and lists the packages it loaded), so neither the code nor the page can drift.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sbt_sklearn"
PAGE = ROOT / "docs" / "user_guide" / "architecture.md"

#: names importable from the package root, and the layer that defines each
ROOT_NAMES = {"__version__": "_version", "SBTClassifier": "estimators", "SBTForecaster": "estimators",
              "SBTAnomalyDetector": "estimators", "fit_detectors": "estimators", "sliding_windows": "data"}
#: third-party packages the run-time check looks for, with what importing each loads as well
HEAVY = {"torch": set(), "scipy": set(), "pandas": set(), "safetensors": set(), "sklearn": {"scipy", "pandas"},
         "skorch": {"sklearn", "scipy", "pandas", "torch"}, "sktime": {"sklearn", "scipy", "pandas"},
         "dask": {"pandas"},
         "accelerate": {"torch"}, "matplotlib": set(), "onnx": set(), "pyod": {"sklearn", "scipy"}}


def _names(cell: str) -> set:
    return {n.strip().strip("`") for n in cell.split(",") if n.strip().strip("`")}


def contract() -> dict:
    """``{layer: (internal, third-party at import, third-party inside functions)}`` from the page."""
    rules = {}
    for line in PAGE.read_text().splitlines():
        m = re.match(r"\|\s*`sbt_sklearn\.([\w.]+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$", line)
        if m:
            rules[m.group(1)] = (_names(m.group(3)), _names(m.group(4)), _names(m.group(5)))
    return rules


RULES = contract()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    """The most specific row of the page that ``module`` (dotted, from sbt_sklearn) belongs to."""
    parts = module.split(".")[1:]
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RULES:
            return ".".join(parts[:n])
    return parts[0] if parts else ""


def _imports(path: Path):
    """Yield (("layer", sbt_sklearn layer) or ("package", third-party top-level package), inside a
    function?, line) for every import statement of ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, (), in_function, child.lineno
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module
                yield target, tuple(a.name for a in child.names), in_function, child.lineno
            yield from visit(child, nested)

    for target, names, in_function, line in visit(tree, False):
        top = target.split(".")[0]
        if top == "sbt_sklearn":
            if target == "sbt_sklearn":
                for name in names:
                    yield ("layer", ROOT_NAMES.get(name, f"<root name {name}>")), in_function, line
            else:
                yield ("layer", _layer(target)), in_function, line
        elif top != "__future__" and top not in sys.stdlib_module_names:
            yield ("package", top), in_function, line


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_page_names_every_layer_of_the_package():
    modules = [_module_name(p) for p in _modules()]
    layers = {m.split(".")[1] for m in modules if "." in m} - {"_version"}
    assert layers - set(RULES) == set(), "layers missing from docs/user_guide/architecture.md"
    assert all(f"sbt_sklearn.{layer}" in modules for layer in RULES), "the page names modules that do not exist"
    for layer, (internal, _, _) in RULES.items():
        assert internal <= set(RULES) | {"_version"}, (layer, internal - set(RULES))


def test_the_package_root_holds_entry_points_cli_and_subpackages():
    files = {p.name for p in PACKAGE.glob("*.py")}
    # plotting_anomaly.py: a deprecated alias of sbt_sklearn.plotting, kept for one release
    assert files <= {"__init__.py", "_version.py", "_docstrings.py", "cli.py", "plotting_anomaly.py"}, files


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_follows_the_layer_contract(path):
    layer = _layer(_module_name(path))
    if layer in ("", "_version"):  # the root: lazy names only
        allowed_internal, allowed_top, allowed_lazy = {"_version", "estimators", "data"}, set(), set()
    else:
        allowed_internal, allowed_top, allowed_lazy = RULES[layer]
    bad = []
    for (kind, target), in_function, line in _imports(path):
        if target == layer or target.startswith(layer + "."):  # a layer's modules import each other
            continue
        if kind == "layer":
            if target not in allowed_internal:
                bad.append(f"line {line}: sbt_sklearn.{target}")
        elif target not in allowed_top and not (in_function and target in allowed_lazy):
            where = "inside a function" if in_function else "at import time"
            bad.append(f"line {line}: {target} ({where})")
    assert not bad, f"{path.relative_to(ROOT)} breaks the contract of layer {layer!r}: {bad}"


def _closure(layer: str) -> tuple[set, set]:
    """Layers and heavy third-party packages that importing ``layer`` may load."""
    layers, packages, todo = set(), set(), [layer]
    while todo:
        current = todo.pop()
        if current in layers or current not in RULES:
            continue
        layers.add(current)
        if "." in current:  # importing a module imports its package first
            todo.append(current.rsplit(".", 1)[0])
        internal, top, _ = RULES[current]
        todo.extend(internal)
        for package in top:
            packages |= {package} | HEAVY.get(package, set())
    return layers, packages


@pytest.mark.parametrize("layer", ["sparsity", "nn", "metrics", "anomaly", "data", "compression", "callbacks",
                                   "plotting"])
def test_importing_a_layer_loads_only_what_its_contract_allows(layer):
    code = (f"import sys, sbt_sklearn.{layer}\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} | "
            "{'sbt_sklearn.' + m.split('.')[1] for m in sys.modules if m.startswith('sbt_sklearn.')})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=120).stdout.split()
    layers, packages = _closure(layer)
    loaded_layers = {m.split(".")[1] for m in out if m.startswith("sbt_sklearn.")} - {"_version"}
    layers = {layer.split(".")[0] for layer in layers}
    loaded_heavy = set(out) & set(HEAVY)
    assert loaded_layers <= layers, f"sbt_sklearn.{layer} loads layers {sorted(loaded_layers - layers)}"
    assert loaded_heavy <= packages, f"sbt_sklearn.{layer} loads {sorted(loaded_heavy - packages)}"
