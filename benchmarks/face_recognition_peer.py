"""The face_recognition peer (dlib's HOG detector and ResNet embedder), as its README uses it:
per photo, ``load_image_file``, ``face_locations`` (HOG), ``face_encodings``. Runs in its own
virtual environment (../shared/docs/peers.md); prints {file name: faces found} as JSON.

    PEER/bin/python benchmarks/face_recognition_peer.py FOLDER
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import face_recognition  # type: ignore[import-not-found]


def main() -> None:
    counts = {}
    for path in sorted(Path(sys.argv[1]).glob("*.jpg")):
        image = face_recognition.load_image_file(str(path))
        locations = face_recognition.face_locations(image)
        face_recognition.face_encodings(image, locations)
        counts[path.name] = len(locations)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
