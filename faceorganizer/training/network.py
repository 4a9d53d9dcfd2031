"""Which part of Inception-ResNet-v1 is trained, and the frozen trunk below it.

The converted weights fold BatchNorm into every convolution (``bn`` holds only the
folded offset, with mean 0 and variance 1 - eps), so every BatchNorm layer runs in
eval mode with its statistics fixed, and the folded ones are not trained at all
(``shared/docs/weights.md``). The bottleneck's real BatchNorm keeps its moving
statistics and constant scale, and learns its offset, as in the original training.

``trainable``:
- ``last``: the bottleneck (1792 -> 512 linear layer and its BatchNorm offset); the
  trunk is everything up to the 1792-d pooled features.
- ``block8``: also the final Inception-ResNet-C block; the trunk stops at its input
  (1792 x 3 x 3).
- ``all``: every convolution and the bottleneck (a GPU job).

Below the trainable part nothing changes during training, so a frozen trunk's output
for a given input is computed once (see ``trainer``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1
from faceorganizer.training.config import TRAINABLE


def trunk(model: InceptionResnetV1, x: torch.Tensor, trainable: str) -> torch.Tensor:
    """The frozen part's output for standardised faces ``x`` (the input itself for ``all``)."""
    if trainable == "all":
        return x
    x = model.conv2d_2b(model.conv2d_2a(model.conv2d_1a(x)))
    x = model.conv2d_4b(model.conv2d_4a(model.conv2d_3b(model.maxpool_3a(x))))
    x = model.repeat_3(model.mixed_7a(model.repeat_2(model.mixed_6a(model.repeat_1(x)))))
    if trainable == "block8":
        return x
    return model.avgpool_1a(model.block8(x)).flatten(1)


def head(model: InceptionResnetV1, x: torch.Tensor, trainable: str) -> torch.Tensor:
    """L2-normalised embeddings from the trunk's output."""
    if trainable == "all":
        return model(x)
    if trainable == "block8":
        x = model.avgpool_1a(model.block8(x)).flatten(1)
    return F.normalize(model.last_bn(model.last_linear(x)), p=2, dim=1)


def _folded_bn(model: nn.Module) -> Iterator[nn.Module]:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            yield module


def trainable_parameters(model: InceptionResnetV1, trainable: str) -> list[nn.Parameter]:
    """Set ``requires_grad`` for ``trainable`` and return those parameters, in a fixed order."""
    if trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {', '.join(TRAINABLE)}, not {trainable!r}")
    model.requires_grad_(False)
    parts: list[nn.Module] = [model.last_linear]
    if trainable == "block8":
        parts.append(model.block8)
    elif trainable == "all":
        parts.append(model)
    for part in parts:
        part.requires_grad_(True)
    for bn in _folded_bn(model):
        bn.requires_grad_(False)
    model.last_bn.weight.requires_grad_(False)  # the graph's constant scale of ones
    model.last_bn.bias.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]
