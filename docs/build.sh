#!/usr/bin/env bash
# Build the documentation with warnings as errors (as CI does).
#   docs/build.sh                 # API, user guide, gallery (examples not executed), benchmark tables
#   SBT_DOCS_PLOT_GALLERY=1 SBT_EXAMPLES_QUICK=1 docs/build.sh   # also execute the examples
# Needs the docs extra: pip install -e ".[docs]"
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
