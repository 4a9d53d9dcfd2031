"""Choosing the torch device: CUDA, then Apple MPS, then the CPU, unless the user says."""

from __future__ import annotations

import torch

from faceorganizer.errors import FaceorganizerError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(FaceorganizerError):
    """The requested device is not available on this machine."""


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(preference: str = "auto") -> torch.device:
    """The device to run models on; ``preference`` is one of :data:`DEVICE_CHOICES`."""
    preference = (preference or "auto").lower()
    if preference not in DEVICE_CHOICES and not preference.startswith("cuda:"):
        raise DeviceError(f"unknown device {preference!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("CUDA was asked for, but torch sees no CUDA GPU (try --device cpu)")
    if preference == "mps" and not mps_available():
        raise DeviceError("Apple MPS was asked for, but it is not available (try --device cpu)")
    return torch.device(preference)
