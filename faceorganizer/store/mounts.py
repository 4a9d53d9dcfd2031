"""Which file system a path is on, to refuse keeping a library on a network share.

SQLite warns against databases on network file systems (their locks are unreliable),
and its WAL mode, which a library uses, needs shared memory that a network file system
cannot provide. Linux reads the mount table (``/proc/self/mountinfo``); macOS and the
BSDs parse the output of ``mount``; Windows asks for the drive type. Where none of these
can tell, a path counts as local.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# File system types that live on another machine (Linux names; macOS and the BSDs use
# nfs, smbfs, afpfs, webdav and ftp).
NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "smb2", "ncpfs", "ncp", "afs", "openafs", "coda",
    "ceph", "glusterfs", "lustre", "gpfs", "beegfs", "orangefs", "pvfs2", "ocfs2", "gfs2",
    "9p", "davfs", "webdav", "afpfs", "ftp", "sshfs", "curlftpfs", "s3fs", "rclone", "moosefs",
    "juicefs", "seaweedfs", "xtreemfs", "cvmfs", "vboxsf", "prl_fs",
})
# FUSE file systems are named fuse.<program> (fuse.sshfs, fuse.davfs2, ...): the program says.
NETWORK_FUSE_PROGRAMS = frozenset({
    "sshfs", "davfs2", "davfs", "rclone", "s3fs", "goofys", "gcsfuse", "glusterfs", "cephfs",
    "ceph-fuse", "smbnetfs", "curlftpfs", "mfs", "moosefs", "juicefs", "seaweedfs", "lizardfs",
    "blobfuse", "blobfuse2", "rclonefs", "cvmfs", "xtreemfs", "beegfs", "gvfsd-fuse",
})

LINUX_MOUNT_TABLES = ("/proc/self/mountinfo", "/proc/mounts")

_OCTAL = re.compile(r"\\([0-3][0-7]{2})")
_BSD_LINE = re.compile(r"^(?P<source>.*?) on (?P<point>/.*?) \((?P<type>[^,()\s]+)[,)]")


@dataclass(frozen=True)
class Mount:
    """One line of a mount table: where a file system is mounted and its type."""

    point: str
    fstype: str
    source: str = ""

    @property
    def is_network(self) -> bool:
        return is_network_type(self.fstype)


def is_network_type(fstype: str) -> bool:
    name = fstype.lower()
    if name in NETWORK_TYPES:
        return True
    for prefix in ("fuse.", "fuseblk."):
        if name.startswith(prefix):
            return name[len(prefix):] in NETWORK_FUSE_PROGRAMS
    return False


def unescape(field: str) -> str:
    """A mount table field with the kernel's octal escapes (``\\040`` for a space) undone."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mount_table(text: str) -> list[Mount]:
    """The mounts of a Linux mount table, ``/proc/self/mountinfo`` or ``/proc/mounts`` format,
    in table order. Lines that are neither are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[1].isdigit() and ":" in fields[2]:
            # mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER
            dash = fields.index("-", 6) if "-" in fields[6:] else -1
            if dash < 0 or len(fields) < dash + 2:
                continue
            point, fstype = fields[4], fields[dash + 1]
            source = fields[dash + 2] if len(fields) > dash + 2 else ""
        elif len(fields) >= 3:
            # /proc/mounts (fstab format): SOURCE POINT TYPE OPTIONS DUMP PASS
            source, point, fstype = fields[0], fields[1], fields[2]
        else:
            continue
        point = unescape(point)
        if not point.startswith("/"):
            continue
        mounts.append(Mount(point=point, fstype=unescape(fstype), source=unescape(source)))
    return mounts


def parse_bsd_mount(text: str) -> list[Mount]:
    """The mounts in the output of ``mount`` on macOS and the BSDs
    (``//ann@nas/photos on /Volumes/photos (smbfs, nodev, nosuid, mounted by ann)``)."""
    mounts = []
    for line in text.splitlines():
        match = _BSD_LINE.match(line.strip())
        if match:
            mounts.append(Mount(point=match["point"], fstype=match["type"], source=match["source"]))
    return mounts


def _within(path: str, point: str) -> bool:
    if point == "/":
        return path.startswith("/")
    point = point.rstrip("/")
    return path == point or path.startswith(point + "/")


def mount_of(path: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount ``path`` (absolute, symlinks resolved) lies on: the longest mount point that
    contains it, whole path components only; of mounts on the same point, the last one
    (it hides those before it)."""
    best: Mount | None = None
    for mount in mounts:
        if _within(path, mount.point) and (best is None
                                           or len(mount.point.rstrip("/")) >= len(best.point.rstrip("/"))):
            best = mount
    return best


def system_mount_table() -> str | None:
    """The text of this Linux system's mount table, or None where there is none to read."""
    for name in LINUX_MOUNT_TABLES:
        try:
            with open(name, encoding="utf-8", errors="surrogateescape") as handle:
                return handle.read()
        except OSError:
            continue
    return None


def _bsd_mounts() -> list[Mount] | None:
    try:
        done = subprocess.run(["mount"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_bsd_mount(done.stdout) if done.returncode == 0 else None


def _windows_network(path: str) -> str | None:
    if sys.platform != "win32":
        return None
    normal = path.replace("/", "\\")
    if normal.upper().startswith("\\\\?\\UNC\\") or (normal.startswith("\\\\")
                                                    and not normal.startswith("\\\\?\\")):
        return "a network share"
    drive = os.path.splitdrive(normal.removeprefix("\\\\?\\"))[0]
    if not drive:
        return None
    import ctypes

    drive_remote = 4
    if ctypes.windll.kernel32.GetDriveTypeW(drive + "\\") == drive_remote:
        return f"the network drive {drive}"
    return None


def network_location(path: str | os.PathLike[str]) -> str | None:
    """If ``path`` (a file or folder, existing or not) is on a network file system, what it
    is ("nfs4 at /mnt/nas"); None if it is local or this system cannot tell."""
    real = os.path.realpath(os.fspath(path))
    if sys.platform == "win32":
        return _windows_network(real)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        mounts = _bsd_mounts()
    else:
        table = system_mount_table()
        mounts = parse_mount_table(table) if table is not None else None
    if not mounts:
        return None
    mount = mount_of(Path(real).as_posix(), mounts)
    if mount is None or not mount.is_network:
        return None
    return f"{mount.fstype} at {mount.point}"
