"""The parameter documentation of the six public classes comes from one registry and stays true.

``sbt_sklearn/_docstrings.py`` holds one description per parameter; ``fill_doc`` writes them into
the class docstrings. These tests parse the rendered docstrings (with numpydoc when it is
installed, else with a small parser of the same format) and check them against the signatures.
"""

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn._docstrings import PARAMETERS, TASK_NOTES, TASK_PARAMETERS, TASKS, fill_doc, parameter_entry

sktime = pytest.importorskip("sktime")
from sbt_sklearn.sktime import SBTSktimeClassifier, SBTSktimeDetector, SBTSktimeForecaster  # noqa: E402

ESTIMATORS = [SBTClassifier, SBTForecaster, SBTAnomalyDetector]
ADAPTERS = {SBTSktimeClassifier: SBTClassifier, SBTSktimeForecaster: SBTForecaster,
            SBTSktimeDetector: SBTAnomalyDetector}
CLASSES = ESTIMATORS + list(ADAPTERS)
TASK_OF = {SBTClassifier: "classifier", SBTForecaster: "forecaster", SBTAnomalyDetector: "anomaly",
           SBTSktimeClassifier: "classifier", SBTSktimeForecaster: "forecaster", SBTSktimeDetector: "anomaly"}


def _signature(cls) -> dict:
    return {n: p.default for n, p in list(inspect.signature(cls.__init__).parameters.items())[1:]}


def _parameters(doc: str) -> list[tuple[str, str, str]]:
    """(name, type, description) of every entry of the Parameters section, in order."""
    try:
        from numpydoc.docscrape import NumpyDocString
    except ImportError:  # the docs extra is not installed: parse the same format by hand
        return _parameters_by_regex(doc)
    return [(p.name, p.type, " ".join(" ".join(p.desc).split())) for p in NumpyDocString(doc)["Parameters"]]


def _parameters_by_regex(doc: str) -> list[tuple[str, str, str]]:
    lines = inspect.cleandoc(doc).splitlines()
    start = next(i for i, line in enumerate(lines) if line == "Parameters") + 2
    out = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            if line.startswith("-") or (out and re.fullmatch(r"[A-Z][A-Za-z ]+", line)):
                break  # the next section
            name, _, typ = line.partition(" : ")
            out.append([name, typ, ""])
        elif line.strip() and out:
            out[-1][2] = (out[-1][2] + " " + line.strip()).strip()
    if out and re.fullmatch(r"[A-Z][A-Za-z ]+", out[-1][0]) and not out[-1][1]:
        out.pop()  # a section title followed by its underline
    return [tuple(entry) for entry in out]


def _documented_default(typ: str):
    match = re.search(r"default=(.+)$", typ)
    assert match, f"no default in {typ!r}"
    return ast.literal_eval(match.group(1))


def test_the_fallback_parser_reads_what_numpydoc_reads():
    pytest.importorskip("numpydoc")
    for cls in CLASSES:
        assert _parameters_by_regex(cls.__doc__) == _parameters(cls.__doc__), cls.__name__


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_parameter_documented_once_in_signature_order(cls):
    names = [name for name, _, _ in _parameters(cls.__doc__)]
    assert names == list(_signature(cls))
    assert "{" + "parameters}" not in cls.__doc__  # every placeholder was filled


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_documented_default_is_the_signature_default(cls):
    signature = _signature(cls)
    for name, typ, desc in _parameters(cls.__doc__):
        assert desc, f"{cls.__name__}.{name} has no description"
        default = _documented_default(typ)
        assert default == signature[name] and type(default) is type(signature[name]), (
            f"{cls.__name__}.{name}: documented default={default!r}, signature {signature[name]!r}")


def test_task_specific_defaults_are_stated_per_class():
    entries = {cls: {n: t for n, t, _ in _parameters(cls.__doc__)} for cls in ESTIMATORS}
    assert entries[SBTClassifier]["attention"].endswith('default="qkv_mask"')
    assert entries[SBTForecaster]["attention"].endswith('default="step_t"')
    assert entries[SBTAnomalyDetector]["norm"].endswith('default="none"')
    assert entries[SBTForecaster]["max_epochs"].endswith('default="auto"')
    assert entries[SBTAnomalyDetector]["max_epochs"].endswith("default=20")
    assert entries[SBTAnomalyDetector]["max_windows_per_epoch"].endswith("default=10000")


@pytest.mark.parametrize("adapter", list(ADAPTERS), ids=lambda c: c.__name__)
def test_adapter_documents_its_estimator_parameters_with_the_same_text(adapter):
    estimator = ADAPTERS[adapter]
    ours = {n: (t, d) for n, t, d in _parameters(adapter.__doc__)}
    theirs = {n: (t, d) for n, t, d in _parameters(estimator.__doc__)}
    assert set(theirs) <= set(ours)
    for name, entry in theirs.items():
        assert ours[name] == entry, f"{adapter.__name__}.{name} differs from {estimator.__name__}.{name}"


def test_the_sktime_forecaster_documents_the_linear_base():
    documented = [n for n, _, _ in _parameters(SBTSktimeForecaster.__doc__)]
    assert {"linear_base", "base_lags", "base_alpha", "window_length"} <= set(documented)


def test_shared_parameters_have_one_text_up_to_the_task_note():
    """A shared parameter reads the same in every class; only its task's note is added."""
    for name in PARAMETERS:
        texts = {}
        for cls in CLASSES:
            found = [d for n, _, d in _parameters(cls.__doc__) if n == name]
            if found:
                note = TASK_NOTES[TASK_OF[cls]].get(name, "")
                text = found[0]
                assert text.endswith(note), (cls.__name__, name)
                texts[cls] = text[: len(text) - len(note)].strip()
        assert len(set(texts.values())) <= 1, name


def test_registry_is_consistent():
    for task in TASKS:
        assert set(TASK_NOTES[task]) <= set(PARAMETERS), f"notes of {task} for unknown parameters"
        assert not set(TASK_PARAMETERS[task]) & set(PARAMETERS), f"{task} shadows a shared entry"
    for table in [PARAMETERS, *TASK_PARAMETERS.values()]:
        for name, text in table.items():
            assert text.startswith(f"{name} : ") and text.splitlines()[0].endswith("default={default}"), name


def test_no_measured_numbers_in_parameter_descriptions():
    """Benchmark numbers belong in the user guide; descriptions state the finding and point there."""
    measured = re.compile(r"ROC-AUC \d|PR-AUC \d|\d+(\.\d+)? ?[kKM]i?B\b|MSE \d|\d+\.\d+ (vs|against) \d")
    for cls in CLASSES:
        for name, _, desc in _parameters(cls.__doc__):
            assert not measured.search(desc), f"{cls.__name__}.{name}: {desc}"


def test_fill_doc_keeps_literal_text_and_rejects_unknown_placeholders():
    class Toy:
        """Toy.

        Parameters
        ----------
        extra : dict, default={}
            Literal entry, braces and all: {not a placeholder}.
        {p}
        """

        def __init__(self, extra=None, p=0.25):
            pass

    fill_doc("anomaly")(Toy)
    assert "extra : dict, default={}" in Toy.__doc__ and "{not a placeholder}" in Toy.__doc__
    assert "    p : float, default=0.25\n" in Toy.__doc__
    assert "The paper uses 0.75 for anomaly detection." in " ".join(Toy.__doc__.split())  # the task's note

    class Bad:
        """Bad.

        Parameters
        ----------
        {d}
        """

        def __init__(self, p=0.5):
            pass

    with pytest.raises(KeyError, match="not a parameter"):
        fill_doc("classifier")(Bad)
    with pytest.raises(ValueError, match="task"):
        fill_doc("regression")
    with pytest.raises(KeyError, match="no documentation"):
        parameter_entry("window", "forecaster", 3)


def test_rendered_lines_are_short_and_literals_unbroken():
    for cls in CLASSES:
        lines = cls.__doc__.splitlines()
        start = lines.index("    Parameters")
        end = next(i for i in range(start + 2, len(lines)) if lines[i].strip() and not lines[i].startswith("     ")
                   and " : " not in lines[i])
        for line in lines[start:end]:
            assert len(line) <= 96, line
            assert line.count("``") % 2 == 0, f"{cls.__name__}: literal broken across lines: {line!r}"


def test_docstrings_module_imports_only_the_standard_library():
    source = Path(sys.modules["sbt_sklearn._docstrings"].__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0] if not node.level else ".")
    assert imported <= {"__future__", "inspect", "re", "textwrap"}, imported
    code = ("import sys, sbt_sklearn._docstrings; "
            "bad = [m for m in ('torch', 'numpy', 'sklearn', 'skorch', 'sktime') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nn_and_sparsity_do_not_import_the_registry():
    code = ("import sys, sbt_sklearn.nn, sbt_sklearn.sparsity; "
            "bad = [m for m in ('sbt_sklearn._docstrings', 'sklearn', 'skorch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_text_shows_the_filled_parameters():
    import pydoc

    text = pydoc.render_doc(SBTClassifier, renderer=pydoc.plaintext)
    assert 'attention : {"qkv_mask", "full", "step_t"}, default="qkv_mask"' in text
    assert "{parameters}" not in text
