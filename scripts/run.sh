#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), then start faceorganizer with these arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
exec .venv/bin/faceorganizer "$@"
