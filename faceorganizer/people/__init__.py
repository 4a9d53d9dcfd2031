"""People: grouping faces, the user's decisions about them, search and recognition."""
