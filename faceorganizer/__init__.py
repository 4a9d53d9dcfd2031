"""faceorganizer: a desktop photo organizer that finds, groups and searches faces with FaceNet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("faceorganizer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

APP_NAME = "faceorganizer"
