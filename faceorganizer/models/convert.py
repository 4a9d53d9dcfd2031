"""Map the float constants of davidsandberg/facenet's frozen Inception-ResNet-v1
onto ``facenet_pytorch.InceptionResnetV1``'s state dict.

The mapping is the one written down in ``shared/docs/weights.md``: BatchNorm is
folded into every conv+BN layer of the graph, so each ``BasicConv2d`` gets the
conv weights, a BN layer that passes the folded bias through (scale 1, mean 0,
variance 1 - eps), and only the bottleneck keeps a real BatchNorm.
"""

from __future__ import annotations

import re

import numpy as np
import torch

PREFIX = "InceptionResnetV1/"
BN_EPS = 0.001

_TOP = {
    "Conv2d_1a_3x3": "conv2d_1a",
    "Conv2d_2a_3x3": "conv2d_2a",
    "Conv2d_2b_3x3": "conv2d_2b",
    "Conv2d_3b_1x1": "conv2d_3b",
    "Conv2d_4a_3x3": "conv2d_4a",
    "Conv2d_4b_3x3": "conv2d_4b",
}
_REPEATS = {"Repeat": ("block35", "repeat_1"), "Repeat_1": ("block17", "repeat_2"),
            "Repeat_2": ("block8", "repeat_3")}
_BRANCHES = {
    "block35": {
        "Branch_0/Conv2d_1x1": "branch0",
        "Branch_1/Conv2d_0a_1x1": "branch1.0",
        "Branch_1/Conv2d_0b_3x3": "branch1.1",
        "Branch_2/Conv2d_0a_1x1": "branch2.0",
        "Branch_2/Conv2d_0b_3x3": "branch2.1",
        "Branch_2/Conv2d_0c_3x3": "branch2.2",
        "Conv2d_1x1": "conv2d",
    },
    "block17": {
        "Branch_0/Conv2d_1x1": "branch0",
        "Branch_1/Conv2d_0a_1x1": "branch1.0",
        "Branch_1/Conv2d_0b_1x7": "branch1.1",
        "Branch_1/Conv2d_0c_7x1": "branch1.2",
        "Conv2d_1x1": "conv2d",
    },
    "block8": {
        "Branch_0/Conv2d_1x1": "branch0",
        "Branch_1/Conv2d_0a_1x1": "branch1.0",
        "Branch_1/Conv2d_0b_1x3": "branch1.1",
        "Branch_1/Conv2d_0c_3x1": "branch1.2",
        "Conv2d_1x1": "conv2d",
    },
    "Mixed_6a": {
        "Branch_0/Conv2d_1a_3x3": "branch0",
        "Branch_1/Conv2d_0a_1x1": "branch1.0",
        "Branch_1/Conv2d_0b_3x3": "branch1.1",
        "Branch_1/Conv2d_1a_3x3": "branch1.2",
    },
    "Mixed_7a": {
        "Branch_0/Conv2d_0a_1x1": "branch0.0",
        "Branch_0/Conv2d_1a_3x3": "branch0.1",
        "Branch_1/Conv2d_0a_1x1": "branch1.0",
        "Branch_1/Conv2d_1a_3x3": "branch1.1",
        "Branch_2/Conv2d_0a_1x1": "branch2.0",
        "Branch_2/Conv2d_0b_3x3": "branch2.1",
        "Branch_2/Conv2d_1a_3x3": "branch2.2",
    },
}


# Residual scales of facenet_pytorch's blocks; the graph stores them as ``mul/x``.
_RESIDUAL_SCALES = {"repeat_1": 0.17, "repeat_2": 0.10, "repeat_3": 0.20, "block8": 1.0}
# The L2 normalisation's epsilon; torch's F.normalize plays its part.
_NORMALISE_EPSILON = "embeddings/Maximum/y"


class ConversionError(ValueError):
    """The graph's constants do not fit the Inception-ResNet-v1 layout."""


def module_for_scope(scope: str) -> str:
    """Torch module name for a TF layer scope (without the model prefix)."""
    if scope in _TOP:
        return _TOP[scope]
    outer, _, inner = scope.partition("/")
    if outer in _REPEATS:
        block_scope, _, inner = inner.partition("/")
        kind, target = _REPEATS[outer]
        match = re.fullmatch(kind + r"_(\d+)", block_scope)
        if not match or inner not in _BRANCHES[kind]:
            raise ConversionError(f"unknown layer scope {scope!r}")
        return f"{target}.{int(match.group(1)) - 1}.{_BRANCHES[kind][inner]}"
    if outer == "Block8" and inner in _BRANCHES["block8"]:
        return f"block8.{_BRANCHES['block8'][inner]}"
    if outer in ("Mixed_6a", "Mixed_7a") and inner in _BRANCHES[outer]:
        return f"{outer.lower()}.{_BRANCHES[outer][inner]}"
    raise ConversionError(f"unknown layer scope {scope!r}")


def _check_residual_scale(block_scope: str, value: float) -> None:
    if block_scope == "Block8":
        target = "block8"
    else:
        outer = block_scope.partition("/")[0]
        if outer not in _REPEATS:
            raise ConversionError(f"unexpected residual scale in {block_scope!r}")
        target = _REPEATS[outer][1]
    if abs(value - _RESIDUAL_SCALES[target]) > 1e-6:
        raise ConversionError(
            f"{block_scope} scales its residual by {value}, the torch model by "
            f"{_RESIDUAL_SCALES[target]}")


def _conv(weights: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(weights.transpose(3, 2, 0, 1)))


def state_dict_from_constants(constants: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Build the state dict; every float constant of the graph must be used."""
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in constants:
            raise ConversionError(f"constant {name!r} missing from the graph")
        used.add(name)
        return constants[name]

    for name in constants:
        if not name.startswith(PREFIX) or "Bottleneck" in name:
            continue
        scope, _, leaf = name[len(PREFIX):].rpartition("/")
        if scope.endswith("/mul") and leaf == "x":
            _check_residual_scale(scope[: -len("/mul")], float(take(name)))
            continue
        module = module_for_scope(scope)
        if leaf == "Conv2D_bn_offset":
            offset = torch.from_numpy(take(name).copy())
            state[f"{module}.conv.weight"] = _conv(take(f"{PREFIX}{scope}/weights"))
            state[f"{module}.bn.weight"] = torch.ones_like(offset)
            state[f"{module}.bn.bias"] = offset
            state[f"{module}.bn.running_mean"] = torch.zeros_like(offset)
            state[f"{module}.bn.running_var"] = torch.full_like(offset, 1.0 - BN_EPS)
            state[f"{module}.bn.num_batches_tracked"] = torch.tensor(0)
        elif leaf == "biases":
            state[f"{module}.weight"] = _conv(take(f"{PREFIX}{scope}/weights"))
            state[f"{module}.bias"] = torch.from_numpy(take(name).copy())

    bottleneck = PREFIX + "Bottleneck/"
    state["last_linear.weight"] = torch.from_numpy(
        np.ascontiguousarray(take(bottleneck + "weights").T))
    state["last_bn.weight"] = torch.from_numpy(take(bottleneck + "BatchNorm/Const").copy())
    state["last_bn.bias"] = torch.from_numpy(take(bottleneck + "BatchNorm/beta").copy())
    state["last_bn.running_mean"] = torch.from_numpy(
        take(bottleneck + "BatchNorm/moving_mean").copy())
    state["last_bn.running_var"] = torch.from_numpy(
        take(bottleneck + "BatchNorm/moving_variance").copy())
    state["last_bn.num_batches_tracked"] = torch.tensor(0)

    used.add(_NORMALISE_EPSILON)
    unused = sorted(set(constants) - used)
    if unused:
        raise ConversionError(f"{len(unused)} graph constants unused, e.g. {unused[0]!r}")
    return state
