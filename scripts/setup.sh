#!/usr/bin/env bash
# Set up everything faceorganizer needs in this checkout: the .venv virtual
# environment, its packages, and the pretrained FaceNet weights. Safe to rerun:
# packages are reinstalled only when pyproject.toml or constraints.txt change,
# and the weights are converted only once (they live in the user cache folder).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 14))'; then
        echo "faceorganizer needs Python 3.10 to 3.13; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
        echo "Set PYTHON=/path/to/python3.11 and run this again." >&2
        exit 1
    fi
    echo "Creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.faceorganizer-setup
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing packages into .venv (torch is large: the first time takes a few minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -c constraints.txt -e '.[dev]'
    echo "$want" > "$stamp"
fi

.venv/bin/faceorganizer weights prepare
