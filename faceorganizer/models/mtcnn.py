"""MTCNN face detection (Zhang et al. 2016) as facenet-pytorch runs it, without torchvision.

The three stages and their constants follow ``facenet_pytorch.models.utils.detect_face``:
an image pyramid through P-Net, R-Net on 24x24 candidates, O-Net on 48x48
candidates with landmarks. The differences are in the plumbing: non-maximum
suppression in NumPy instead of torchvision (whose import costs seconds),
resampling with Pillow, channels-last tensors, and one image per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from faceorganizer.models.mtcnn_nets import ONet, PNet, RNet


@dataclass(frozen=True)
class RawDetections:
    """Faces in one image: ``boxes`` (N, 4) x1, y1, x2, y2; ``probs`` (N,); ``points`` (N, 5, 2)."""

    boxes: np.ndarray
    probs: np.ndarray
    points: np.ndarray

    @staticmethod
    def empty() -> RawDetections:
        return RawDetections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32),
                             np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.probs)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, *, mode: str = "union",
        plus_one: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first.

    ``mode="union"`` is IoU (torchvision's ``nms``); ``"min"`` divides the overlap by the
    smaller area, as MTCNN's last stage does. ``plus_one`` counts pixels inclusively.
    """
    if len(boxes) == 0:
        return np.zeros((0,), dtype=np.int64)
    extra = 1.0 if plus_one else 0.0
    x1, y1, x2, y2 = (boxes[:, k].astype(np.float64) for k in range(4))
    area = (x2 - x1 + extra) * (y2 - y1 + extra)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + extra)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + extra)
        inter = w * h
        if mode == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _cl(x: torch.Tensor) -> torch.Tensor:
    """Channels-last layout: CPU max-pooling and convolutions run 2-5x faster in it."""
    return x.contiguous(memory_format=torch.channels_last)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (``rerec``)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply the networks' box offsets (``bbreg``)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _crops(image: Image.Image, boxes: np.ndarray, size: int,
           device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """Resample each box (clipped to the image, 1-based as in MTCNN) to size x size."""
    w, h = image.size
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    x = np.maximum(b[:, 0], 1)
    y = np.maximum(b[:, 1], 1)
    ex = np.minimum(b[:, 2], w)
    ey = np.minimum(b[:, 3], h)
    valid = (ey > y - 1) & (ex > x - 1)
    crops = [np.asarray(image.resize((size, size), Image.Resampling.BOX,
                                     box=(int(x[k] - 1), int(y[k] - 1), int(ex[k]), int(ey[k]))))
             for k in np.flatnonzero(valid)]
    if not crops:
        return torch.zeros((0, 3, size, size), device=device), valid
    return _normalised(np.stack(crops), device), valid


def _normalised(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W, 3) uint8 pixels to MTCNN's input, NCHW in channels-last memory."""
    tensor = torch.from_numpy(pixels).to(device).float()
    return ((tensor - 127.5) * 0.0078125).permute(0, 3, 1, 2)


def pyramid_scales(width: int, height: int, min_face_size: float, factor: float) -> list[float]:
    """P-Net scales: the smallest face maps to P-Net's 12-pixel window, then shrink by factor."""
    m = 12.0 / min_face_size
    min_side = min(width, height) * m
    scales = []
    scale = m
    while min_side >= 12:
        scales.append(scale)
        scale *= factor
        min_side *= factor
    return scales


@torch.inference_mode()
def detect(image: Image.Image, nets: tuple[PNet, RNet, ONet], *, min_face_size: float = 20.0,
           thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7), factor: float = 0.709,
           device: torch.device | None = None) -> RawDetections:
    """Detect faces in an RGB image; coordinates in that image's pixels.

    The networks, weights, thresholds and box arithmetic are facenet-pytorch's. The
    resampling is not: the pyramid and the 24/48 px candidate crops use Pillow's box
    filter (area averaging, as facenet-pytorch's ``interpolate(mode="area")``) at
    about a third of the cost, which cuts detection time by a fifth and moves boxes
    by a few pixels (``tests/models/test_mtcnn.py`` bounds the difference).
    """
    pnet, rnet, onet = nets
    device = device or next(pnet.parameters()).device
    if image.mode != "RGB":
        image = image.convert("RGB")
    w, h = image.size

    # Stage 1: P-Net over the pyramid.
    candidates = []
    for scale in pyramid_scales(w, h, min_face_size, factor):
        level = image.resize((int(w * scale + 1), int(h * scale + 1)), Image.Resampling.BOX)
        reg, probs = pnet(_normalised(np.array(level)[None], device))
        score = probs[0, 1].cpu().numpy()
        ys, xs = np.nonzero(score >= thresholds[0])
        if len(ys) == 0:
            continue
        offsets = reg[0].cpu().numpy()[:, ys, xs].T
        cells = np.stack([xs, ys], axis=1).astype(np.float32)
        q1 = np.floor((2 * cells + 1) / scale)
        q2 = np.floor((2 * cells + 12) / scale)
        found = np.concatenate([q1, q2, score[ys, xs, None], offsets], axis=1)
        candidates.append(found[nms(found[:, :4], found[:, 4], 0.5)])
    if not candidates:
        return RawDetections.empty()
    boxes = np.concatenate(candidates)
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
    bw = boxes[:, 2] - boxes[:, 0]
    bh = boxes[:, 3] - boxes[:, 1]
    refined = np.stack([boxes[:, 0] + boxes[:, 5] * bw, boxes[:, 1] + boxes[:, 6] * bh,
                        boxes[:, 2] + boxes[:, 7] * bw, boxes[:, 3] + boxes[:, 8] * bh,
                        boxes[:, 4]], axis=1)
    boxes = _square(refined)

    # Stage 2: R-Net.
    data, valid = _crops(image, boxes, 24, device)
    boxes = boxes[valid]
    if len(boxes) == 0:
        return RawDetections.empty()
    reg, probs = rnet(data)
    score = probs[:, 1].cpu().numpy()
    keep = score > thresholds[1]
    boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
    reg = reg.cpu().numpy()[keep]
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes = _square(_regress(boxes[pick], reg[pick]))
    if len(boxes) == 0:
        return RawDetections.empty()

    # Stage 3: O-Net, with landmarks.
    data, valid = _crops(image, boxes, 48, device)
    boxes = boxes[valid]
    if len(boxes) == 0:
        return RawDetections.empty()
    reg, marks, probs = onet(data)
    score = probs[:, 1].cpu().numpy()
    keep = score > thresholds[2]
    boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
    reg = reg.cpu().numpy()[keep]
    marks = marks.cpu().numpy()[keep]
    bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    points = np.stack([bw * marks[:, :5] + boxes[:, 0:1] - 1,
                       bh * marks[:, 5:] + boxes[:, 1:2] - 1], axis=2)
    boxes = _regress(boxes, reg)
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min", plus_one=True)
    boxes, points = boxes[pick], points[pick]
    return RawDetections(boxes[:, :4].astype(np.float32), boxes[:, 4].astype(np.float32),
                         points.astype(np.float32))
