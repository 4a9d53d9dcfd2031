"""Can the window open on X11? Finds the Qt xcb plugin's missing system libraries and the install command."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OS_RELEASE_FILES = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
LDD_TIMEOUT_S = 10.0
PLUGIN_FILE = "libqxcb.so"
# Where the platform plugins lie inside the PySide6 package: the wheels use Qt/plugins.
PLUGIN_DIRS = (("Qt", "plugins", "platforms"), ("plugins", "platforms"), ("Qt6", "plugins", "platforms"))

DEBIAN, FEDORA, ARCH, SUSE = "debian", "fedora", "arch", "suse"
FAMILIES = (DEBIAN, FEDORA, ARCH, SUSE)
# os-release ID / ID_LIKE words -> the family whose package names apply.
FAMILY_OF_ID = {
    "debian": DEBIAN, "ubuntu": DEBIAN, "linuxmint": DEBIAN, "pop": DEBIAN, "elementary": DEBIAN,
    "raspbian": DEBIAN, "kali": DEBIAN, "neon": DEBIAN, "zorin": DEBIAN,
    "fedora": FEDORA, "rhel": FEDORA, "centos": FEDORA, "rocky": FEDORA, "almalinux": FEDORA,
    "ol": FEDORA, "amzn": FEDORA, "nobara": FEDORA,
    "arch": ARCH, "archarm": ARCH, "manjaro": ARCH, "endeavouros": ARCH, "garuda": ARCH, "cachyos": ARCH,
    "suse": SUSE, "opensuse": SUSE, "opensuse-leap": SUSE, "opensuse-tumbleweed": SUSE,
    "opensuse-slowroll": SUSE, "sles": SUSE, "sled": SUSE,
}
INSTALLERS = {
    DEBIAN: ("apt-get", "install"),
    FEDORA: ("dnf", "install"),
    ARCH: ("pacman", "-S"),
    SUSE: ("zypper", "install"),
}
FAMILY_NAMES = {DEBIAN: "Debian/Ubuntu", FEDORA: "Fedora/RHEL", ARCH: "Arch", SUSE: "openSUSE"}

# The libraries Qt 6's xcb plugin links to (ldd lists them transitively), and the package that
# ships each one: (Debian/Ubuntu, Fedora/RHEL, Arch, openSUSE).
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor", "libxcb-cursor0"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm", "libxcb-icccm4"),
    "libxcb-ewmh.so.2": ("libxcb-ewmh2", "xcb-util-wm", "xcb-util-wm", "libxcb-ewmh2"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms", "libxcb-keysyms1"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image", "libxcb-image0"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil",
                                "libxcb-render-util0"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util", "libxcb-util1"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb", "libxcb-randr0"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb", "libxcb-shape0"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb", "libxcb-xfixes0"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb", "libxcb-xinerama0"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb", "libxcb-xkb1"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb", "libxcb-shm0"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb", "libxcb-sync1"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb", "libxcb-render0"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb", "libxcb-glx0"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb", "libxcb", "libxcb-xinput0"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb", "libxcb1"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11", "libX11-xcb1"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11", "libX11-6"),
    "libXau.so.6": ("libxau6", "libXau", "libxau", "libXau6"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp", "libXdmcp6"),
    "libXext.so.6": ("libxext6", "libXext", "libxext", "libXext6"),
    "libXrender.so.1": ("libxrender1", "libXrender", "libxrender", "libXrender1"),
    "libXi.so.6": ("libxi6", "libXi", "libxi", "libXi6"),
    "libSM.so.6": ("libsm6", "libSM", "libsm", "libSM6"),
    "libICE.so.6": ("libice6", "libICE", "libice", "libICE6"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon", "libxkbcommon0"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11",
                              "libxkbcommon-x11-0"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd", "libEGL1"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd", "libGL1"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd", "libGLX0"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd", "libGLdispatch0"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd", "libOpenGL0"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig", "libfontconfig1"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2", "libfreetype6"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus", "libdbus-1-3"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libglib-2_0-0"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libgthread-2_0-0"),
    "libpng16.so.16": ("libpng16-16", "libpng", "libpng", "libpng16-16"),
    "libz.so.1": ("zlib1g", "zlib", "zlib", "libz1"),
    "libzstd.so.1": ("libzstd1", "libzstd", "zstd", "libzstd1"),
    "libexpat.so.1": ("libexpat1", "expat", "expat", "libexpat1"),
    "libpcre2-8.so.0": ("libpcre2-8-0", "pcre2", "pcre2", "libpcre2-8-0"),
    "libbrotlidec.so.1": ("libbrotli1", "libbrotli", "brotli", "libbrotlidec1"),
    "libbrotlicommon.so.1": ("libbrotli1", "libbrotli", "brotli", "libbrotlicommon1"),
}

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# glibc's ldd: "libxcb-cursor.so.0 => not found"; musl's: "Error loading shared library X: ...".
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found\s*$", re.MULTILINE)
_MUSL_NOT_FOUND = re.compile(r"Error loading shared library\s+([^\s:]+):\s*No such file", re.MULTILINE)


@dataclass(frozen=True)
class XcbCheck:
    """What ldd says about Qt's xcb plugin: the libraries it cannot find, or why nobody knows."""

    plugin: Path | None
    missing: tuple[str, ...] = ()
    error: str | None = None

    @property
    def status(self) -> str:
        """``ok``, ``missing`` or ``unknown`` (the check could not be made)."""
        if self.missing:
            return "missing"
        return "unknown" if self.error else "ok"


@dataclass(frozen=True)
class InstallHint:
    """How to install missing libraries here: the packages, and the command where it is known."""

    family: str | None
    packages: tuple[str, ...]
    unmapped: tuple[str, ...]
    command: str | None


# --- The platform -----------------------------------------------------------------------------

def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5); quotes and escapes undone, comments and junk skipped."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.strip().partition("=")
        if not sep or not _KEY.fullmatch(key):
            continue
        found[key] = _unquote(raw.strip())
    return found


def _unquote(raw: str) -> str:
    try:
        return " ".join(shlex.split(raw, comments=False, posix=True))
    except ValueError:  # an unbalanced quote: keep what is there
        return raw.strip("\"'")


def read_os_release(paths: Sequence[Path] = OS_RELEASE_FILES) -> dict[str, str]:
    """The first os-release file that can be read; empty if there is none."""
    for path in paths:
        try:
            return parse_os_release(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return {}


def platform_family(release: Mapping[str, str]) -> str | None:
    """``debian``, ``fedora``, ``arch`` or ``suse`` from ``ID`` then ``ID_LIKE``; None if unknown."""
    words = [release.get("ID", ""), *release.get("ID_LIKE", "").split()]
    for word in (w.strip().lower() for w in words):
        if word in FAMILY_OF_ID:
            return FAMILY_OF_ID[word]
        if word.startswith("opensuse"):
            return SUSE
    return None


def packages_for(missing: Iterable[str], family: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packages that ship these libraries on ``family``, in order and once each, and the
    libraries no package is known for."""
    packages: list[str] = []
    unmapped: list[str] = []
    column = FAMILIES.index(family) if family in FAMILIES else None
    for soname in missing:
        row = PACKAGES.get(soname)
        if row is None or column is None:
            unmapped.append(soname)
        elif row[column] not in packages:
            packages.append(row[column])
    return tuple(packages), tuple(unmapped)


def install_command(family: str, packages: Sequence[str], as_root: bool = False) -> str:
    """The shell command that installs ``packages`` on ``family`` (with sudo unless already root)."""
    words = [*INSTALLERS[family], *packages]
    return shlex.join(words if as_root else ["sudo", *words])


def install_hint(missing: Sequence[str], release: Mapping[str, str] | None = None,
                 as_root: bool | None = None) -> InstallHint:
    """What to install for the ``missing`` libraries on this platform (or the one ``release`` says)."""
    family = platform_family(read_os_release() if release is None else release)
    packages, unmapped = packages_for(missing, family)
    if as_root is None:
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    command = install_command(family, packages, as_root) if family and packages else None
    return InstallHint(family, packages, unmapped, command)


# --- The xcb plugin and ldd -------------------------------------------------------------------

def pyside_folders() -> list[Path]:
    """The PySide6 package folders, found without importing PySide6 (the core must not)."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return []
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []


def find_xcb_plugin(environ: Mapping[str, str] | None = None,
                    folders: Sequence[Path] | None = None) -> Path | None:
    """Qt's xcb platform plugin (``libqxcb.so``): where QT_QPA_PLATFORM_PLUGIN_PATH says, else
    inside PySide6 (``Qt/plugins/platforms`` in the wheels, or anywhere below the package)."""
    environ = os.environ if environ is None else environ
    folders = pyside_folders() if folders is None else folders
    candidates = [Path(p) / PLUGIN_FILE
                  for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    candidates += [folder.joinpath(*parts, PLUGIN_FILE) for folder in folders for parts in PLUGIN_DIRS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for folder in folders:
        found = sorted(folder.rglob(f"platforms/{PLUGIN_FILE}")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


def parse_ldd(text: str) -> tuple[str, ...]:
    """The libraries ldd could not find, in the order it listed them, once each."""
    hits = sorted([(m.start(), m.group(1)) for m in _NOT_FOUND.finditer(text)]
                  + [(m.start(), m.group(1)) for m in _MUSL_NOT_FOUND.finditer(text)])
    return tuple(dict.fromkeys(name for _, name in hits))


def run_ldd(plugin: Path, ldd: str | None = None, timeout: float = LDD_TIMEOUT_S) -> tuple[str, str | None]:
    """ldd's output for ``plugin``, and why it could not be had (None when it could)."""
    ldd = ldd or shutil.which("ldd")
    if not ldd:
        return "", "ldd is not installed, so the libraries of Qt's xcb plugin could not be checked"
    try:
        done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, errors="replace",
                              timeout=timeout, check=False, env={**os.environ, "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        return "", f"ldd did not answer within {timeout:g} s"
    except OSError as exc:
        return "", f"ldd could not be run: {exc}"
    output = done.stdout + done.stderr
    if done.returncode != 0 and not parse_ldd(output):
        first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
        return output, f"ldd failed on {plugin} (exit status {done.returncode}): {first}"
    if "=>" not in output and not parse_ldd(output):
        return output, f"ldd gave no list of libraries for {plugin}"
    return output, None


def check_xcb_plugin(plugin: Path | None = None, ldd: str | None = None,
                     platform: str | None = None) -> XcbCheck:
    """Which system libraries Qt's xcb plugin needs and cannot find here."""
    if not (platform or sys.platform).startswith("linux"):
        return XcbCheck(None, error="only Linux uses Qt's xcb plugin")
    plugin = plugin or find_xcb_plugin()
    if plugin is None:
        return XcbCheck(None, error="Qt's xcb plugin (libqxcb.so) was not found in PySide6")
    output, error = run_ldd(plugin, ldd)
    return XcbCheck(plugin, parse_ldd(output), error)


def wayland_reachable(environ: Mapping[str, str]) -> bool:
    """Whether WAYLAND_DISPLAY names a socket that is there (as libwayland-client finds it)."""
    name = environ.get("WAYLAND_DISPLAY", "")
    if not name:
        return False
    if os.path.isabs(name):
        return Path(name).exists()
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    return bool(runtime) and (Path(runtime) / name).exists()


def xcb_would_be_used(environ: Mapping[str, str], platform: str | None = None) -> bool:
    """Whether Qt would open the window through its xcb (X11) plugin alone: on Linux, with
    QT_QPA_PLATFORM naming xcb first, or unset with an X display and no Wayland one to use (Qt
    tries Wayland first when WAYLAND_DISPLAY is set, and falls back to xcb if that fails)."""
    if not (platform or sys.platform).startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0].strip() == "xcb"
    return bool(environ.get("DISPLAY")) and not wayland_reachable(environ)


def local_display_number(display: str) -> int | None:
    """The display number of a local X display name (``:0``, ``:1.0``, ``unix:2``); None for a
    remote one (``host:0``, ``localhost:10.0`` over ssh) or a name that is not one."""
    host, _, rest = display.strip().rpartition(":")
    if host not in ("", "unix"):
        return None
    number = rest.split(".")[0]
    return int(number) if number.isdigit() else None


def x_server_reachable(display: str, sockets: str = "/tmp/.X11-unix",
                       unix_table: Path = Path("/proc/net/unix")) -> bool:
    """Whether an X server listens for the local display ``display``: its socket file, or its
    abstract socket (listed in /proc/net/unix). True whenever that cannot be told (remote
    displays, no /proc): only a display that is certainly not there counts as missing."""
    number = local_display_number(display)
    if number is None:
        return True
    if Path(sockets, f"X{number}").exists():
        return True
    try:
        table = unix_table.read_text(errors="replace")
    except OSError:
        return True
    return f"{sockets}/X{number}" in table


# --- What the user is told --------------------------------------------------------------------

def how_to_install(hint: InstallHint) -> str:
    """The sentences that say how to install the missing libraries."""
    if hint.command is None:
        return ("Install the packages of your system that provide them, then start faceorganizer "
                "again.")
    text = f"Install them with:\n  {hint.command}\nthen start faceorganizer again."
    if hint.unmapped:
        text += (f"\nNo {FAMILY_NAMES.get(hint.family or '', 'known')} package is known for "
                 f"{', '.join(hint.unmapped)}: install the one that provides it too.")
    return text


def missing_libraries_message(check: XcbCheck, hint: InstallHint) -> str:
    """The message shown instead of Qt's abort when the xcb plugin lacks libraries."""
    return (f"The window cannot open: Qt's X11 (xcb) platform plugin needs system libraries that "
            f"are missing: {', '.join(check.missing)}.\n{how_to_install(hint)}\n"
            "(The command line works without them: faceorganizer --help.)")


def window_problem(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why Qt's xcb plugin would fail to load here (the install command included), or None when it
    would load, is not the one Qt would use, or could not be checked (Qt then has its say)."""
    environ = os.environ if environ is None else environ
    if not xcb_would_be_used(environ, platform):
        return None
    display = environ.get("DISPLAY", "")
    if display and not x_server_reachable(display):
        # Qt would blame a missing xcb-cursor library here, which misleads
        return (f"The window cannot open: no X server is running on the display {display} "
                "($DISPLAY). Start the desktop session (or Xvfb), or set DISPLAY to a running one. "
                "(The command line works without it: faceorganizer --help.)")
    check = check_xcb_plugin(platform=platform)
    if check.status != "missing":
        return None
    return missing_libraries_message(check, install_hint(check.missing))


def display_report(environ: Mapping[str, str] | None = None, platform: str | None = None) -> dict[str, Any]:
    """The ``display`` section of ``faceorganizer doctor``."""
    environ = os.environ if environ is None else environ
    check = check_xcb_plugin(platform=platform)
    hint = install_hint(check.missing)
    return {
        "status": check.status,
        "plugin": str(check.plugin) if check.plugin else None,
        "missing": list(check.missing),
        "packages": list(hint.packages),
        "unmapped": list(hint.unmapped),
        "command": hint.command,
        "os_family": hint.family,
        "error": check.error,
        "uses_xcb": xcb_would_be_used(environ, platform),
        "environment": {name: environ.get(name) or None
                        for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")},
    }
