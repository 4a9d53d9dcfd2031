#!/usr/bin/env bash
# One command for a CUDA (or Apple MPS) machine: the GPU against the CPU on the album and LFW,
# in under 5 minutes. Needs the project's .venv (scripts/setup.sh) and ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout 300 .venv/bin/python benchmarks/gpu_check.py "$@"
