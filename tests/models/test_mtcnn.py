"""Our MTCNN pipeline finds what facenet-pytorch's finds, without importing torchvision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faceorganizer.models import mtcnn
from faceorganizer.models.mtcnn_nets import load_nets
from faceorganizer.store.faces import iou


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.8, 0.9, 0.7], dtype=np.float32)
    assert mtcnn.nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert mtcnn.nms(boxes, scores, 0.9).tolist() == [1, 0, 2]
    inner = np.array([[0, 0, 100, 100], [10, 10, 30, 30]], dtype=np.float32)
    assert mtcnn.nms(inner, np.array([0.9, 0.8]), 0.7, mode="min").tolist() == [0]
    assert mtcnn.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_pyramid_scales_start_at_the_smallest_face() -> None:
    scales = mtcnn.pyramid_scales(640, 480, 20.0, 0.709)
    assert scales[0] == pytest.approx(0.6)
    assert 480 * scales[-1] >= 12 > 480 * scales[-1] * 0.709


@pytest.mark.slow
def test_same_faces_as_facenet_pytorch(data_dir: Path) -> None:
    """Same networks and thresholds; only the resampling differs (Pillow's box filter), so
    the faces facenet-pytorch is sure of (p >= 0.9) are found again, a few pixels apart."""
    from facenet_pytorch import MTCNN

    reference = MTCNN(keep_all=True)
    nets = load_nets(torch.device("cpu"))
    overlaps, missed, theirs, ours, prob_gaps = [], [], 0, 0, []
    photos = [p for folder in ("album", "groups", "known")
              for p in sorted((data_dir / folder).glob("*.jp*g"))]
    for path in photos:
        with Image.open(path) as image:
            image = image.convert("RGB")
        image.thumbnail((640, 640))
        boxes, probs, points = reference.detect(image, landmarks=True)
        found = mtcnn.detect(image, nets)
        sure = found.probs >= 0.9
        ours += int(sure.sum())
        for box, prob, marks in zip(*(x if x is not None else [] for x in (boxes, probs, points)),
                                    strict=True):
            if prob < 0.9:
                continue
            theirs += 1
            candidates = [iou(box, mine) for mine in found.boxes]
            best = int(np.argmax(candidates)) if candidates else -1
            if best < 0 or candidates[best] < 0.5:
                missed.append(path.name)
                continue
            overlaps.append(candidates[best])
            prob_gaps.append(abs(found.probs[best] - prob))
            assert np.abs(found.points[best] - marks).max() < 0.15 * (box[2] - box[0])
    assert theirs > 120
    assert len(missed) <= theirs * 0.02, missed
    assert abs(ours - theirs) <= theirs * 0.03
    assert np.median(overlaps) > 0.9 and min(overlaps) > 0.7
    assert np.median(prob_gaps) < 1e-3 and max(prob_gaps) < 0.25
