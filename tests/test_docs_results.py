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
