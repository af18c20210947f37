"""Write one API-reference page per public module of the package, from the module's ``__all__``.

On ``config-inited`` (before autosummary looks for directives) every public sub-module of
``sbt_api_package`` that defines ``__all__`` (and is not in ``sbt_api_exclude``) gets a page
``api/<module>.rst`` with an autosummary table of its public names; ``api.rst`` lists them with
a glob. A new module, or a new name in an ``__all__``, appears in the docs without editing them.
A module that cannot be imported (an optional dependency missing) is left out with a warning.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

KIND_TITLES = {"class": "Classes", "function": "Functions", "data": "Constants"}


def public_modules(package: str, exclude) -> list[str]:
    """Names of the public modules of ``package`` (itself included) that define ``__all__``."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or any(
                info.name == e or info.name.startswith(e + ".") for e in exclude):
            continue
        names.append(info.name)
    return names


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def module_page(name: str) -> str | None:
    """reST of the API page of module ``name`` (None when it has no ``__all__``)."""
    module = importlib.import_module(name)
    public = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
    if not public:
        return None
    groups: dict[str, list[str]] = {}
    for item in public:
        groups.setdefault(_kind(getattr(module, item)), []).append(item)
    lines = [f"``{name}``", "=" * (len(name) + 4), "", f".. automodule:: {name}", "   :no-members:",
             "   :no-index:", "", f".. currentmodule:: {name}", ""]
    for kind in ("class", "function", "data"):
        if kind not in groups:
            continue
        title = KIND_TITLES[kind]
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: generated/", "   :nosignatures:"]
        lines.append("")
        lines += [f"   {item}" for item in groups[kind]]
        lines.append("")
    return "\n".join(lines)


def write_pages(app, config) -> None:
    srcdir = Path(app.srcdir)
    out = srcdir / "api"
    out.mkdir(exist_ok=True)
    wanted = set()
    for name in public_modules(config.sbt_api_package, config.sbt_api_exclude):
        try:
            text = module_page(name)
        except ImportError as exc:
            logger.warning("API reference: %s left out, it cannot be imported (%s)", name, exc)
            continue
        if text is None:
            continue
        path = out / f"{name}.rst"
        wanted.add(path.name)
        if not path.exists() or path.read_text() != text:  # keep mtimes: incremental builds
            path.write_text(text)
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()


def setup(app):
    app.add_config_value("sbt_api_package", "sbt_sklearn", "env")
    app.add_config_value("sbt_api_exclude", [], "env")
    app.connect("config-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
