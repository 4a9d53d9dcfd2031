"""Our MTCNN pipeline finds exactly what facenet-pytorch's finds, without importing torchvision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faceorganizer.models import mtcnn
from faceorganizer.models.mtcnn_nets import load_nets

PHOTOS = ["album/couple.jpg", "album/img1.jpg", "groups/friends_t1.jpg", "groups/voc_2007_007763.jpg",
          "known/obama_small.jpg", "negatives/opencv_baboon.jpg"]


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
@pytest.mark.parametrize("name", PHOTOS)
def test_same_faces_as_facenet_pytorch(data_dir: Path, name: str) -> None:
    from facenet_pytorch import MTCNN

    image = Image.open(data_dir / name).convert("RGB")
    image.thumbnail((800, 800))
    boxes, probs, points = MTCNN(keep_all=True).detect(image, landmarks=True)
    if boxes is not None:
        boxes, points = boxes.astype(np.float32), points.astype(np.float32)
    found = mtcnn.detect(image, load_nets(torch.device("cpu")))
    if boxes is None:
        assert len(found) == 0
        return
    assert len(found) == len(boxes)
    # facenet-pytorch orders by size, ours by probability; otherwise the same numbers.
    ours = np.lexsort((found.boxes[:, 1], found.boxes[:, 0]))
    theirs = np.lexsort((boxes[:, 1], boxes[:, 0]))
    np.testing.assert_allclose(found.boxes[ours], boxes[theirs], atol=1e-3)
    np.testing.assert_allclose(found.probs[ours], np.asarray(probs, np.float32)[theirs], atol=1e-5)
    np.testing.assert_allclose(found.points[ours], points[theirs], atol=1e-3)
