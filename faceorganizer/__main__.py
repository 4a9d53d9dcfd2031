"""``python -m faceorganizer``: the same as the ``faceorganizer`` command."""

from faceorganizer.cli import entry

entry()
