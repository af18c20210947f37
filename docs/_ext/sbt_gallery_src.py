"""Stage ``examples/`` for sphinx-gallery in ``docs/_gallery_src/`` with a gallery header.

sphinx-gallery needs a ``GALLERY_HEADER.rst`` in the examples folder; the repository's
``examples/`` holds plain runnable scripts only, so the scripts are copied (on
``config-inited``, before sphinx-gallery runs; unchanged files keep their mtime) next to the
header below. An ``examples/GALLERY_HEADER.rst``, if one is added, replaces it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HEADER = """Gallery of examples
===================

Runnable scripts from the repository's ``examples/`` folder: forecasts, anomaly scores,
sparsity trajectories, and size and FLOPs against the dense twin. Each runs in about a minute on
two CPU cores; ``SBT_EXAMPLES_QUICK=1`` makes the scripts that support it train for a few
epochs only (as the smoke tests do).
"""


def stage(app, config) -> None:
    src = Path(config.sbt_examples_src)
    dst = Path(app.srcdir) / "_gallery_src"
    dst.mkdir(exist_ok=True)
    wanted = {"GALLERY_HEADER.rst"}
    header = src / "GALLERY_HEADER.rst"
    _sync_text(dst / "GALLERY_HEADER.rst", header.read_text() if header.exists() else HEADER)
    for path in sorted(src.glob("*.py")):
        wanted.add(path.name)
        target = dst / path.name
        if not target.exists() or target.read_bytes() != path.read_bytes():
            shutil.copy2(path, target)
    for stale in dst.iterdir():
        if stale.name not in wanted and stale.is_file():
            stale.unlink()


def _sync_text(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.add_config_value("sbt_examples_src", "", "env")
    app.connect("config-inited", stage, priority=100)  # before sphinx-gallery's builder-inited
    return {"parallel_read_safe": True, "parallel_write_safe": True}
