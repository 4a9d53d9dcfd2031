"""Running test code in a Linux user and mount namespace: real full and read-only file systems
(a small tmpfs, a read-only bind mount) and real permission checks, without root on the machine.

Where namespaces or mounts are not permitted, the tests that need them are skipped with the
reason, never passed silently.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

# Helpers for the code run in the namespace (it is root there, with its own mounts).
PRELUDE = '''
import json, os, subprocess, sys
from pathlib import Path


def mount_tmpfs(folder, size):
    """A real file system of ``size`` (e.g. "256k") at ``folder``: it fills up for real."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)


def read_only_view(folder, view):
    """``folder`` seen again at ``view``, read-only (a bind mount remounted read-only)."""
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)


def report(**values):
    print("RESULT " + json.dumps(values))
'''


@functools.cache
def why_not() -> str | None:
    """Why code cannot run in a user + mount namespace here (None when it can)."""
    if not sys.platform.startswith("linux"):
        return "user and mount namespaces are Linux only"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "the unshare command is not installed"
    with tempfile.TemporaryDirectory() as folder:
        try:
            done = subprocess.run(
                [unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
                 f"mount -t tmpfs -o size=64k tmpfs '{folder}' && "
                 f"mount -o remount,ro,bind '{folder}'"],
                capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"unshare failed: {exc}"
        if done.returncode != 0:
            return f"unshare/mount is not permitted here: {done.stderr.strip() or done.returncode}"
    return None


def require() -> None:
    reason = why_not()
    if reason is not None:
        pytest.skip(f"needs a Linux user + mount namespace ({reason})")


def run(code: str, *args: str, root: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` (after :data:`PRELUDE`, with the checkout importable) in a new user
    namespace: as its root with its own mounts, or (not ``root``) as a user without privileges,
    so that file permissions apply."""
    require()
    options = ["--user", "--map-root-user", "--mount"] if root else ["--user"]
    unshare = shutil.which("unshare")
    assert unshare is not None
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "error"}
    return subprocess.run([unshare, *options, sys.executable, "-c", PRELUDE + code, *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def result(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """What the code :func:`report`-ed (fails the test with its output if it did not)."""
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1][len("RESULT "):])
