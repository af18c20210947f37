"""Turn the benchmark results (``docs/benchmarks/*.json``) into pages of tables.

The benchmark scripts in ``benchmarks/`` write ``docs/benchmarks/<name>.json`` (the data) and
``<name>.md`` (the tables as the script lays them out: paper numbers, ours, the peers'). On
``config-inited`` this extension writes ``results/<name>.rst`` for every JSON file: the
markdown tables (included through myst-parser) followed by every table of the data file
rendered generically (lists of records become tables, nested objects sub-sections), and
``results/index.rst``. Re-running a benchmark and rebuilding the docs is all it takes.

The converter is also usable on its own::

    python docs/_ext/sbt_benchmarks.py docs/benchmarks/compression.json   # prints reST
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

MAX_DEPTH = 3
_SAFE = re.compile(r"^[\w .,%()/:=+<>~-]*$")
_UNDERLINE = ["-", "~", "^", '"']


def _cell(value) -> str:
    """One table cell / field value as inline reST."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return ", ".join(_cell(v) for v in value) if value else "–"
        return _literal(json.dumps(value, default=str))
    text = str(value).replace("\n", " ").strip()
    if not text:
        return "–"
    if _SAFE.match(text) and text[0] not in "+-" and not re.match(r"^\d+\.(\s|$)", text):
        return text.replace("_", r"\_")
    return _literal(text)


def _literal(text: str) -> str:
    text = text.replace("``", "` `").strip()
    if len(text) > 200:
        text = text[:197] + "..."
    return f"``{text}``" if text else "–"


def _flatten(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _table(records: list[dict]) -> list[str]:
    rows = [_flatten(r) for r in records]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [columns, *[[row.get(c) for c in columns] for row in rows]]:
        first = True
        for cell in cells:
            text = _cell(cell) if cells is not columns else _cell(str(cell))
            lines.append(("   * - " if first else "     - ") + text)
            first = False
    return lines + [""]


def _is_records(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _heading(text: str, depth: int) -> list[str]:
    title = _cell(str(text))
    return [title, _UNDERLINE[min(depth, len(_UNDERLINE) - 1)] * max(len(title), 4), ""]


def render_data(data, depth: int = 0) -> list[str]:
    """reST for a JSON value: scalars as a field list, record lists as tables, dicts as sections."""
    lines: list[str] = []
    if _is_records(data):
        return _table(data)
    if not isinstance(data, dict):
        return [_cell(data), ""]
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_records(v)}
    if scalars:
        lines += [f":{_field(k)}: {_cell(v)}" for k, v in scalars.items()] + [""]
    for key, value in data.items():
        if key in scalars:
            continue
        lines += _heading(key, depth)
        if depth + 1 >= MAX_DEPTH and isinstance(value, dict):
            if all(isinstance(v, dict) for v in value.values()) and value:  # a dict of records
                lines += _table([{"": k, **v} for k, v in value.items()])
            else:
                lines += [".. code-block:: json", ""]
                lines += ["   " + ln for ln in json.dumps(value, indent=1, default=str).splitlines()] + [""]
        else:
            lines += render_data(value, depth + 1)
    return lines


def _field(key) -> str:
    return re.sub(r"[:`*\\]", " ", str(key)).strip() or "value"


def _title(md_path: Path, fallback: str) -> str:
    if md_path.exists():
        for line in md_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return fallback.replace("_", " ").capitalize()


#: the command that writes each results file (run from the repository root; the real data sets
#: come from ``SBT_DATA_HOME``). A results file without one is a research note (docs/notes/).
PRODUCERS = {
    "anomaly": "python benchmarks/anomaly.py --seeds 3",
    "anomaly_per_channel": "python benchmarks/anomaly.py --protocol per-channel --seeds 3 "
                           "(rows run in separate processes, combined with --merge)",
    "anomaly_default": "python benchmarks/anomaly_default.py --seeds 0 1 2",
    "anomaly_default_per_channel": "python benchmarks/anomaly_default.py --protocol per-channel --seeds 0 1 2",
    "c_export": "python benchmarks/c_export.py",
    "classification_japanese_vowels": "python benchmarks/classification.py --seeds 0 1 2",
    "compression": "python benchmarks/compression.py",
    "core_speed_threads1": "python benchmarks/core_speed.py --threads 1",
    "core_speed_threads2": "python benchmarks/core_speed.py --threads 2",
    "forecasting": "python benchmarks/forecasting.py",
    "forecasting_memory": "python benchmarks/forecasting_memory.py",
    "forecasting_norm_layer_plain": "python benchmarks/forecasting.py --datasets ETTm1 --seeds 0 --params "
                                    "'{\"d\": 64, \"d_ff\": 256, \"max_epochs\": 10, \"max_windows_per_epoch\": "
                                    "8192, \"norm\": \"layer_plain\"}' "
                                    "--out docs/benchmarks/forecasting_norm_layer_plain",
    "gpu": "python benchmarks/gpu.py --repeats 2 (on a machine with a CUDA device)",
    "hostile_files": "python benchmarks/hostile_files.py",
    "long_horizon": "python benchmarks/long_horizon.py run (data sets and models split over two processes with "
                    "--datasets and --models), python benchmarks/long_horizon_peers.py (the peers, in their own "
                    "environment), then python benchmarks/long_horizon.py report",
    "pals": "python benchmarks/pals.py --tasks jv ettm1 smap",
    "intervals": "python benchmarks/intervals.py --datasets ETTh1 (and ETTm1, in a second process), then "
                 "python benchmarks/intervals.py --report",
    "parallel_cv": "python benchmarks/parallel_cv.py --repeats 3",
    "threads": "python benchmarks/threads.py --repeats 3",
    "ucr_uea": "python benchmarks/ucr_uea.py run (the data sets split over two processes with --datasets), "
               "then python benchmarks/ucr_uea.py report",
}


def page(json_path: Path, rel_bench: str = "../benchmarks") -> str:
    """The reST page of one benchmark result."""
    name = json_path.stem
    md_path = json_path.with_suffix(".md")
    title = _title(md_path, name)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    lines = [f".. _benchmark-{name}:", "", "=" * len(title), title, "=" * len(title), "",
             f"Generated from :download:`{name}.json <{rel_bench}/{name}.json>`"
             + (f" and :download:`{name}.md <{rel_bench}/{name}.md>`" if md_path.exists() else "")
             + f", written by ``{PRODUCERS[name]}``.", ""]
    if md_path.exists():
        lines += ["Tables", "------", "",
                  f".. include:: {rel_bench}/{name}.md", "   :parser: myst_parser.sphinx_",
                  "   :start-line: 1", ""]
    lines += ["Data", "----", "", "Every table of the data file, as recorded.", ""]
    lines += render_data(data, depth=1)
    return "\n".join(lines) + "\n"


INDEX = """Benchmark results
=================

Tables generated from the data files that the benchmark scripts write to ``docs/benchmarks/``
(``python benchmarks/<script>.py``): the paper's numbers reproduced next to ours and next to the
baselines users would otherwise pick. Machine, library versions and settings are recorded in
every file.

.. toctree::
   :maxdepth: 1
   :glob:

   *
"""


def write_pages(app, config) -> None:
    srcdir = Path(app.srcdir)
    bench, out = srcdir / "benchmarks", srcdir / "results"
    out.mkdir(exist_ok=True)
    wanted = {"index.rst"}
    _write(out / "index.rst", INDEX)
    for json_path in sorted(bench.glob("*.json")):
        if json_path.stem not in PRODUCERS:
            raise ValueError(f"docs/benchmarks/{json_path.name} names no producing script in PRODUCERS: "
                             "add the command that writes it, or move it to docs/notes/")
        target = out / f"{json_path.stem}.rst"
        wanted.add(target.name)
        _write(target, page(json_path))
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("config-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(page(Path(arg)))
