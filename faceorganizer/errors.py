"""The base of the errors faceorganizer explains to the user (no traceback needed)."""


class FaceorganizerError(Exception):
    """An expected failure; ``str(error)`` says what went wrong and how to fix it."""
