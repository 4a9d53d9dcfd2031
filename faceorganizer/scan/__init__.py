"""Scanning folders into the library: walking, change detection, the face pipeline."""
