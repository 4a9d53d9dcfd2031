"""The embedder's precision: chosen by the machine, overridable, refused when unknown."""

from __future__ import annotations

import numpy as np
import pytest

from faceorganizer.models import embedder as embedder_module
from faceorganizer.models.embedder import FacenetEmbedder, auto_precision
from faceorganizer.models.weights import resolve


def test_auto_is_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(embedder_module, "_cpu_has_bf16", lambda: True)
    assert auto_precision(torch.device("cpu")) == "bf16"
    monkeypatch.setattr(embedder_module, "_cpu_has_bf16", lambda: False)
    assert auto_precision(torch.device("cpu")) == "fp32"
    assert auto_precision(torch.device("cuda")) == "fp16"


def test_the_environment_overrides_and_unknown_precisions_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    weights = resolve()
    monkeypatch.setenv("FACEORGANIZER_PRECISION", "fp32-nchw")
    assert FacenetEmbedder(weights).precision == "fp32-nchw"
    assert FacenetEmbedder(weights, precision="fp16").precision == "fp32"  # no half floats on a CPU
    with pytest.raises(ValueError, match="unknown precision"):
        FacenetEmbedder(weights, precision="int8")


@pytest.mark.slow
def test_bf16_embeddings_stay_next_to_fp32_ones(data_dir) -> None:
    from faceorganizer.evaluation.lfw import load_crop, read_pairs

    pairs = read_pairs(data_dir / "lfw" / "pairs.txt")
    crops = np.stack([load_crop(data_dir / "lfw" / "images", image) for image in pairs.first[:48]])
    exact = FacenetEmbedder(resolve(), precision="fp32").embed(crops)
    fast = FacenetEmbedder(resolve(), precision="bf16").embed(crops)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(exact * fast, axis=1)) >= 0.999
