#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), then run the whole test suite and the linters.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check faceorganizer tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
