"""The baseline: facenet-pytorch used the obvious way, one full-size photo at a time.

``MTCNN(keep_all=True)`` on each photo, then ``InceptionResnetV1`` on its crops (with
faceorganizer's converted CASIA-WebFace weights, since the hub download is not
available offline). Prints JSON: faces per photo. Run as a whole process by
``scan_speed.py`` so that its start-up counts, as a user would feel it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from facenet_pytorch import MTCNN, InceptionResnetV1
from PIL import Image

from faceorganizer.models.weights import load_state_dict, resolve


def main(folder: str) -> None:
    mtcnn = MTCNN(keep_all=True)
    model = InceptionResnetV1().eval()
    model.load_state_dict(load_state_dict(resolve(prepare_missing=False).path), strict=False)
    counts = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = Image.open(path).convert("RGB")
        faces = mtcnn(image)
        if faces is not None:
            with torch.no_grad():
                model(faces)
        counts[path.name] = 0 if faces is None else len(faces)
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
