"""Our Inception-ResNet-v1 is facenet-pytorch's, module for module."""

from __future__ import annotations

import torch

from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1


def test_same_parameters_and_outputs_as_facenet_pytorch() -> None:
    from facenet_pytorch import InceptionResnetV1 as Reference

    ours, reference = InceptionResnetV1().eval(), Reference().eval()
    theirs = reference.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.items()}
    torch.manual_seed(0)
    state = {k: torch.randn_like(v) * 0.05 if v.is_floating_point() else v for k, v in theirs.items()}
    for key in state:  # keep batch-norm variances positive
        if key.endswith("running_var"):
            state[key] = state[key].abs() + 0.5
    ours.load_state_dict(state, strict=True)
    reference.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)
    assert torch.allclose(ours(x).norm(dim=1), torch.ones(2))
