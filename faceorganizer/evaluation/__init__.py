"""Measuring recognition the FaceNet paper's way: LFW verification and clustering quality."""
