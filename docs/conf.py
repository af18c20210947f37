"""Sphinx configuration of the sbt_sklearn documentation.

Build (warnings are errors, as in CI)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Environment variables:

``SBT_DOCS_PLOT_GALLERY=1``
    Execute the examples while building the gallery (figures and output in the pages). Off by
    default for a quick local build; CI sets it with ``SBT_EXAMPLES_QUICK=1`` (short runs), and
    also runs every example as a smoke test (``tests/test_docs_examples.py``).
``SBT_DOCS_GALLERY_PATTERN=<regex>``
    With ``SBT_DOCS_PLOT_GALLERY=1``, execute only the examples whose path matches (default
    ``/plot_``), e.g. ``plot_compression``.
``SBT_DOCS_INTERSPHINX=1``
    Link to the numpy, scikit-learn, skorch, torch and sktime docs (downloads their inventories,
    so off by default: the build must work offline).
"""

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import sbt_sklearn  # noqa: E402

project = "sbt_sklearn"
author = "sbt_sklearn developers"
copyright = "2026, sbt_sklearn developers"  # noqa: A001
release = sbt_sklearn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sbt_gallery_src",  # docs/_ext/sbt_gallery_src.py: stage examples/ for the gallery
    "sphinx_gallery.gen_gallery",
    "sbt_api",  # docs/_ext/sbt_api.py: one API page per public module, from its __all__
    "sbt_toctree",  # docs/_ext/sbt_toctree.py: toctrees that skip pages not written yet
    "sbt_benchmarks",  # docs/_ext/sbt_benchmarks.py: docs/benchmarks/*.json -> tables
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_gallery_src",
    "Thumbs.db",
    ".DS_Store",
    "benchmarks/*.md",  # included by the generated benchmark pages, not pages of their own
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]

# -- API reference ---------------------------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# modules documented in the API reference: every public sub-module with an __all__ is found
# automatically (sbt_api.py); list here only what to leave out
sbt_api_package = "sbt_sklearn"
sbt_api_exclude = ["sbt_sklearn.estimators", "sbt_sklearn.utils", "sbt_sklearn.cli",
                   "sbt_sklearn.plotting_anomaly"]  # a deprecated alias of sbt_sklearn.plotting



def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document only members defined in this package (not sklearn's, skorch's, torch's, sktime's)."""
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    if what == "class" and module and not module.startswith("sbt_sklearn"):
        return True
    return None


_CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`_{0,2}|:[\w:+-]+:`[^`]+`)")
_FITTED_NAME = re.compile(r"(?<![\w\\])([A-Za-z]\w*?)_(?=[\s).,;:]|$)")


def _escape_fitted_names(app, what, name, obj, options, lines):
    """Escape scikit-learn style fitted-attribute names (``coef_``) written as plain text.

    In reST a word ending in ``_`` is a hyperlink reference, so prose such as "(n, n_timesteps_)"
    fails the build with "Unknown target name". Text inside literals, roles and directives is
    left alone.
    """
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("..") or "::" in line or stripped.startswith(">>>"):
            continue
        parts = _CODE_SPAN.split(line)
        for j in range(0, len(parts), 2):  # even items are outside code spans and roles
            parts[j] = _FITTED_NAME.sub(r"\1\\_", parts[j])
        lines[i] = "".join(parts)


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("autodoc-process-docstring", _escape_fitted_names, priority=600)  # after numpydoc


# -- Markdown (user guide) -------------------------------------------------------------------
# no math extension: MathJax comes from a CDN, which an offline reader cannot reach; the few
# symbols the docs need are written in Unicode (tests/test_docs_results.py keeps it so)
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Gallery ---------------------------------------------------------------------------------
sbt_examples_src = str(DOCS.parent / "examples")
sphinx_gallery_conf = {
    "examples_dirs": "_gallery_src",  # a staged copy of ../examples (see sbt_gallery_src.py)
    "gallery_dirs": "auto_examples",
    # which scripts are executed when the gallery is plotted (a regex on the path)
    "filename_pattern": os.environ.get("SBT_DOCS_GALLERY_PATTERN", r"/plot_"),
    "ignore_pattern": r"(__init__|/_)",
    "plot_gallery": os.environ.get("SBT_DOCS_PLOT_GALLERY", "0") == "1",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sbt_sklearn",),
    "backreferences_dir": "api/backreferences",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
}

# -- Cross-project links (optional, needs the network) ---------------------------------------
intersphinx_mapping = {}
if os.environ.get("SBT_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "sktime": ("https://www.sktime.net/en/stable", None),
    }

# the benchmark markdown starts below its H1 (the page title), and numpydoc's References in a
# module docstring are not cited in the text: both harmless
suppress_warnings = ["myst.header", "ref.citation"]

# references to other projects' objects (sklearn, skorch, torch, accelerate, dask) are left as
# plain text when intersphinx is off; they are not errors of this project's docs
nitpicky = False

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sbt_sklearn {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_show_sourcelink = False
