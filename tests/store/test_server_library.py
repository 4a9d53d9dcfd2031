"""A library on a PostgreSQL server (issue 13, item 1): its address checked before anything
connects, the same version checks and migrations as a file, writers queued across
connections, passwords only from the standard places, and errors a person can act on."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from faceorganizer.cli import main
from faceorganizer.store import Library, LibraryError, LibraryTooNewError, migrations
from faceorganizer.store.address import AddressError, ServerAddress, is_server_address, parse_server_address
from faceorganizer.store.errors import LibraryLockedError, LibraryUnreachableError, translate
from faceorganizer.store.schema import Person
from tests.postgres import PASSWORD_USER, Server

# ---- the address ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://anna@nas.local/family", ServerAddress("anna", "nas.local", None, "family")),
    ("postgres://anna@192.168.1.20:5433/family", ServerAddress("anna", "192.168.1.20", 5433, "family")),
    ("postgresql://anna@[::1]:5432/family", ServerAddress("anna", "[::1]", 5432, "family")),
    ("postgresql:///family", ServerAddress(None, None, None, "family")),
    ("postgresql://j%C3%B6rg@nas/fam%20ily?sslmode=require",
     ServerAddress("jörg", "nas", None, "fam ily", (("sslmode", "require"),))),
])
def test_addresses_are_read_as_written(text: str, expected: ServerAddress) -> None:
    assert is_server_address(text)
    address = parse_server_address(text)
    assert address == expected
    assert parse_server_address(str(address)) == address  # written back, read again


@pytest.mark.parametrize(("text", "says"), [
    ("postgresql://anna:secret@nas/family", "~/.pgpass"),
    ("postgresql://anna:@nas/family", "~/.pgpass"),
    ("postgresql://anna@nas", "names no database"),
    ("postgresql://anna@nas/", "names no database"),
    ("postgresql://anna@nas/a/b", "names no database"),
    ("postgresql://anna@nas:0/family", "not one"),
    ("postgresql://anna@nas:99999/family", "cannot be read"),
    ("postgresql://anna@nas:port/family", "cannot be read"),
    ("postgresql://anna@nas/family?options=-c%20default_transaction_read_only%3Don", "not taken"),
    ("postgresql://anna@nas/family?host=/tmp/evil", "not taken"),
    ("postgresql://anna@nas/family?sslmode=maybe", "must be one of"),
    ("postgresql://anna@nas/family?connect_timeout=-1", "connect_timeout"),
    ("postgresql://anna@nas/family#x", "'#'"),
    ("postgresql://anna@nas/fam\x00ily", "control character"),
    ("postgresql://anna@nas/family\n; DROP TABLE faces", "control character"),
    ("postgresql://an%0Ana@nas/family", "control character"),
    ("postgresql://anna@nas/" + "d" * 64, "longer than PostgreSQL allows"),
    ("postgresql://anna@nas/" + "d" * 3000, "at most 2048"),
    ("postgresql://anna@na$s/family", "not a host name"),
    ("postgresql://anna@nas/family?" + "&".join(["sslmode=require"] * 40), "cannot be read"),
])
def test_hostile_or_broken_addresses_are_refused_before_connecting(text: str, says: str) -> None:
    with pytest.raises(AddressError, match=None) as caught:
        parse_server_address(text)
    assert says in str(caught.value)
    with pytest.raises(LibraryError) as opened:  # and by the library itself, before connecting
        Library(text)
    assert says in str(opened.value)


def test_a_password_never_reaches_the_message() -> None:
    with pytest.raises(AddressError) as caught:
        parse_server_address("postgresql://anna:hunter2@nas/family")
    assert "hunter2" not in str(caught.value)


def test_files_are_not_server_addresses(tmp_path: Path) -> None:
    for name in ("library.sqlite", "postgresql.sqlite", str(tmp_path / "postgresql:" / "x")):
        assert not is_server_address(name) or name.startswith("postgresql:")
    assert not is_server_address(tmp_path / "postgresql://x")  # a Path is always a file


# ---- opening -------------------------------------------------------------------------------


def test_a_new_server_library_has_the_current_schema_and_the_same_tables(
        postgres_server: Server, tmp_path: Path) -> None:
    address = postgres_server.new_database()
    with Library(address) as library:
        assert library.shared and library.path is None
        assert library.schema_version == migrations.SCHEMA_VERSION
        assert library.name == address
        with library.session() as session:
            session.add(Person(name="Anna"))
    with Library(address, create=False) as again, again.reader() as session:
        assert [p.name for p in session.query(Person)] == ["Anna"]
    with Library(tmp_path / "file.sqlite") as file_library:
        file_tables = _tables(file_library)
    with Library(address) as library:
        assert _tables(library) - {"faceorganizer_library"} == file_tables


def _tables(library: Library) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(library.engine).get_table_names())


def test_a_newer_server_library_is_refused_and_left_untouched(postgres_server: Server) -> None:
    address = postgres_server.new_database()
    Library(address).close()
    name = address.rsplit("/", 1)[1]
    postgres_server.psql("UPDATE faceorganizer_library SET schema_version = 99", name)
    with pytest.raises(LibraryTooNewError, match="newer faceorganizer"):
        Library(address)
    assert postgres_server.psql("SELECT schema_version FROM faceorganizer_library", name).strip() == "99"


def test_a_database_that_is_not_a_library_is_refused(postgres_server: Server) -> None:
    address = postgres_server.new_database(vector=False)
    name = address.rsplit("/", 1)[1]
    postgres_server.psql("CREATE TABLE invoices (id int)", name)
    with pytest.raises(LibraryError, match="not a faceorganizer library"):
        Library(address)
    assert postgres_server.psql("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_schema = 'public'", name).strip() == "1"


def test_an_empty_database_is_not_made_a_library_when_asked_not_to(postgres_server: Server) -> None:
    address = postgres_server.new_database(vector=False)
    with pytest.raises(LibraryError, match="no library in"):
        Library(address, create=False)


def test_a_migration_runs_in_one_transaction_on_the_server(
        postgres_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older library is migrated step by step in one transaction: a failing step leaves it
    exactly as it was (PostgreSQL's DDL is transactional); a good one reaches the new version."""
    address = postgres_server.new_database(vector=False)
    Library(address).close()
    now = migrations.SCHEMA_VERSION

    def add_column(conn) -> None:
        conn.exec_driver_sql("ALTER TABLE people ADD COLUMN nickname TEXT")

    def add_then_fail(conn) -> None:
        add_column(conn)
        raise RuntimeError("the migration broke")

    monkeypatch.setattr(migrations, "SCHEMA_VERSION", now + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, now, add_then_fail)
    with pytest.raises(LibraryError, match="the migration broke"):
        Library(address)
    name = address.rsplit("/", 1)[1]
    columns = "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'"
    assert postgres_server.psql(columns, name).strip() == "0"
    assert postgres_server.psql("SELECT schema_version FROM faceorganizer_library", name).strip() == str(now)
    monkeypatch.setitem(migrations.MIGRATIONS, now, add_column)
    with Library(address) as library:
        assert library.schema_version == now + 1
    assert postgres_server.psql(columns, name).strip() == "1"


def test_writers_on_two_connections_queue_and_readers_never_wait(postgres_server: Server) -> None:
    """Two machines writing: the second waits for the first's write lock, at most the lock
    timeout, then is told who holds it; a reader meanwhile sees the last committed state."""
    address = postgres_server.new_database(vector=False)
    first = Library(address)
    second = Library(address, lock_timeout=0.3)
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with first.session() as session:
            session.add(Person(name="written by the first machine"))
            session.flush()
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(10)
        with pytest.raises(LibraryLockedError, match="locked by another program"), \
                second.session() as session:
            session.add(Person(name="second"))
        with second.reader() as session:
            assert session.query(Person).count() == 0  # not committed yet, and no waiting
    finally:
        release.set()
        writer.join()
    with second.session() as session:
        session.add(Person(name="second, after the first"))
    with second.reader() as session:
        assert sorted(p.name for p in session.query(Person)) == [
            "second, after the first", "written by the first machine"]
    first.close()
    second.close()


def test_a_read_is_one_snapshot(postgres_server: Server) -> None:
    """A reader's queries all see the library as it was when the reader began, as in SQLite's WAL
    mode, even when another machine commits in between."""
    address = postgres_server.new_database(vector=False)
    with Library(address) as library:
        with library.reader() as session:
            assert session.query(Person).count() == 0
            with library.session() as writer:
                writer.add(Person(name="meanwhile"))
            assert session.query(Person).count() == 0
        with library.reader() as session:
            assert session.query(Person).count() == 1


# ---- passwords and errors ------------------------------------------------------------------


@pytest.fixture
def password_user(postgres_server: Server) -> str:
    """A database owned by a user who must give the password 'correct horse'; its address."""
    address = postgres_server.new_database(vector=False)
    name = address.rsplit("/", 1)[1]
    postgres_server.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                         f"'{PASSWORD_USER}') THEN CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD "
                         "'correct horse'; END IF; END $$")
    postgres_server.psql(f'ALTER DATABASE "{name}" OWNER TO {PASSWORD_USER}')
    postgres_server.psql(f"ALTER SCHEMA public OWNER TO {PASSWORD_USER}", name)
    return f"postgresql://{PASSWORD_USER}@127.0.0.1:{postgres_server.port}/{name}"


def test_the_password_comes_from_pgpass_or_pgpassword(
        password_user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(LibraryUnreachableError) as refused:
        Library(password_user)
    message = str(refused.value)
    assert f"refused the user {PASSWORD_USER}" in message and "~/.pgpass" in message
    assert "correct horse" not in message
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("127.0.0.1:*:*:anna:correct horse\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with Library(password_user) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", "correct horse")
    with Library(password_user) as library:
        assert library.schema_version == migrations.SCHEMA_VERSION


def test_a_server_that_does_not_answer_is_explained(postgres_server: Server) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(LibraryUnreachableError) as caught:
        Library(f"postgresql://postgres@127.0.0.1:{port}/family?connect_timeout=2")
    message = str(caught.value)
    assert f"127.0.0.1:{port} cannot be reached" in message and "firewall" in message


def test_a_missing_database_is_explained(postgres_server: Server) -> None:
    with pytest.raises(LibraryUnreachableError, match="has no database nosuchlibrary.*createdb"):
        Library(postgres_server.url("nosuchlibrary"))


@pytest.mark.parametrize(("error", "kind", "says"), [
    (psycopg.errors.DiskFull("could not extend file"), "LibraryFullError", "Free some space"),
    (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT"), "LibraryReadOnlyError", "read-only"),
    (psycopg.errors.InsufficientPrivilege("permission denied for table faces"),
     "LibraryReadOnlyError", "may not change it"),
    (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
     "LibraryLockedError", "FACEORGANIZER_LOCK_TIMEOUT"),
    (psycopg.errors.TooManyConnections("too many clients"), "LibraryUnreachableError", "max_connections"),
    (psycopg.errors.AdminShutdown("terminating connection"), "LibraryUnreachableError", "cannot be reached"),
])
def test_server_errors_a_person_can_act_on(error: Exception, kind: str, says: str) -> None:
    server = parse_server_address("postgresql://anna@nas/family")
    explained = translate(error, None, lock_timeout=10, server=server)
    assert type(explained).__name__ == kind and says in str(explained)
    assert translate(psycopg.errors.SyntaxError("bug"), None, server=server) is None  # a bug: traceback


# ---- the command line ----------------------------------------------------------------------


def test_commands_take_a_server_library(postgres_server: Server, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from faceorganizer.people import operations
    from tests.fakes import add_faces, faces_of, identities

    address = postgres_server.new_database(vector=False)
    with Library(address) as library:
        faces = add_faces(library, faces_of(identities(1, seed=3)[0], 2, seed=1))
        operations.create_person(library, faces, "Anna")  # undoable: the triggers on the server
    assert main(["people", "--library", address, "--json"]) == 0
    people = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in people] == ["Anna"]
    assert main(["weights", "status", "--library", address, "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["library"]["path"] == address
    monkeypatch.setenv("FACEORGANIZER_LIBRARY", address)
    assert main(["doctor", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)["library"]
    assert (report["path"], report["exists"], report["schema_version"]) == (
        address, True, migrations.SCHEMA_VERSION)
    assert main(["people", "--library", "postgresql://anna:pw@nas/family"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("faceorganizer: error:") and "~/.pgpass" in err and "pw@" not in err
