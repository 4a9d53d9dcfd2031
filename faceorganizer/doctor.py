"""What ``faceorganizer doctor`` checks: versions, device, weights, library and the window's libraries."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from faceorganizer import __version__
from faceorganizer.display import display_report
from faceorganizer.store.address import ServerAddress

PACKAGES = ("torch", "torchvision", "facenet-pytorch", "numpy", "Pillow", "pillow-heif",
            "SQLAlchemy", "scikit-learn", "platformdirs", "PySide6-Essentials")


def package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def device_report(preference: str = "auto") -> dict[str, Any]:
    import torch

    from faceorganizer.models.device import DeviceError, choose_device, mps_available

    report: dict[str, Any] = {
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "mps_available": mps_available(),
        "cpu_threads": torch.get_num_threads(),
    }
    try:
        report["chosen"] = str(choose_device(preference))
    except DeviceError as exc:
        report["chosen"] = None
        report["error"] = str(exc)
    return report


def weights_report() -> dict[str, Any]:
    """Whether the weights that would be used are there and load."""
    from faceorganizer.models.weights import WeightsError, load_model, resolve

    try:
        resolved = resolve(prepare_missing=False)
    except WeightsError as exc:
        return {"ok": False, "path": None, "model_id": None, "error": str(exc)}
    report: dict[str, Any] = {"ok": True, "path": str(resolved.path),
                              "model_id": resolved.model_id, "builtin": resolved.builtin,
                              "error": None}
    try:
        load_model(resolved)
    except WeightsError as exc:
        report.update(ok=False, error=str(exc))
    return report


def library_report(path: Path | ServerAddress) -> dict[str, Any]:
    """The library's schema, photos and weights; ``path`` is its file or its server."""
    from faceorganizer.reembed import stale_faces
    from faceorganizer.store import Library, LibraryError, read
    from faceorganizer.store.records import weights_record

    exists = path.exists() if isinstance(path, Path) else None  # a server's: known once opened
    report: dict[str, Any] = {"path": str(path), "exists": exists}
    if exists is False:
        return report
    try:
        with Library(path, create=False) as library, library.reader() as session:
            report["exists"] = True
            report["schema_version"] = library.schema_version
            report["photos"] = {str(k): v for k, v in read.status_counts(session).items()}
            stored = weights_record(session)
            report["weights"] = stored.as_dict() if stored is not None else None
            report["faces_to_reembed"] = stale_faces(library)
    except LibraryError as exc:
        report["error"] = str(exc)
    return report


def full_report(library: Path | ServerAddress, device: str = "auto") -> dict[str, Any]:
    return {
        "faceorganizer": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "device": device_report(device),
        "weights": weights_report(),
        "library": library_report(library),
        "display": display_report(),
    }
