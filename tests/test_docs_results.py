"""Every results page in docs/benchmarks/ names the script in benchmarks/ that produced it."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _producers() -> dict:
    spec = importlib.util.spec_from_file_location("sbt_benchmarks", ROOT / "docs" / "_ext" / "sbt_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PRODUCERS


def test_every_results_file_has_a_producing_script_that_exists():
    producers = _producers()
    results = {p.stem for p in (ROOT / "docs" / "benchmarks").glob("*.json")}
    assert results == set(producers), "results without a producer (move them to docs/notes/) or stale producers"
    for name, command in producers.items():
        script = re.match(r"python (benchmarks/\w+\.py)", command)
        assert script and (ROOT / script.group(1)).is_file(), (name, command)


def test_research_notes_say_that_no_script_reproduces_them():
    notes = sorted((ROOT / "docs" / "notes").glob("*.md"))
    assert notes
    for page in notes:
        assert "no script in `benchmarks/` reproduces this page" in page.read_text(), page.name
        assert page.with_suffix(".json").is_file(), page.name


def test_the_docs_render_offline_without_math_markup():
    # MathJax would load from a CDN: no math extension, and no math markup for it to render
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert "sphinx.ext.mathjax" not in conf and '"dollarmath"' not in conf
    sources = [p for p in (ROOT / "docs").rglob("*") if p.suffix in (".md", ".rst", ".py")
               and not {"_build", "auto_examples", "results", "api"} & set(p.relative_to(ROOT / "docs").parts)]
    sources += list((ROOT / "sbt_sklearn").rglob("*.py")) + list((ROOT / "examples").glob("*.py"))
    found = [p.name for p in sources if re.search(r":math:`|\.\. math::|\{math\}", p.read_text(errors="replace"))]
    assert not found, found


def test_ci_builds_the_gallery_with_its_examples_executed():
    ci = (ROOT / ".ci" / "run").read_text()
    build = ci[ci.index("python -m sphinx") - 200 : ci.index("python -m sphinx")]
    assert "SBT_DOCS_PLOT_GALLERY=1" in build and "SBT_EXAMPLES_QUICK=1" in build
