"""``python -m faceorganizer``: the same as the ``faceorganizer`` command."""

from faceorganizer.cli import main

raise SystemExit(main())
