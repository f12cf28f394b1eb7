"""A real PostgreSQL server for the PostgreSQL journal tests: no mocks of the database.

``postgres_server`` is one throwaway server for the whole session: ``initdb`` into a fresh
temporary directory, then ``postgres`` on a free loopback port (TCP only, no Unix socket, fsync
off), stopped and deleted at the end. ``postgres_url`` is a fresh database of that server for
each test. The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``, the newest version
found) or any on the PATH. PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` user (Debian's package creates it), else as ``tightknit-pg``, created with
``useradd`` if missing.

Without PostgreSQL or the driver (``psycopg``, in the ``postgres`` extra) the tests skip, unless
``CI`` is set: then they fail, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tightknit_async.journal import Journal, PostgresJournal

SERVICE_USER = "tightknit-pg"


def _skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI is set: refusing to skip them", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version_of(bindir: str) -> tuple[int, ...]:
    name = Path(bindir).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def find_bindir() -> str | None:
    """The directory holding ``initdb`` and ``postgres``: Debian's newest, else the PATH's."""
    debian = [
        path
        for path in glob.glob("/usr/lib/postgresql/*/bin")
        if os.access(os.path.join(path, "initdb"), os.X_OK)
        and os.access(os.path.join(path, "postgres"), os.X_OK)
    ]
    if debian:
        return max(debian, key=_version_of)
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres:
        return os.path.dirname(os.path.realpath(postgres))
    return None


def _service_user() -> pwd.struct_passwd | None:
    """Who runs the server: ``None`` (this user) unless we are root, who may not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SERVICE_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(SERVICE_USER)


@dataclass
class PostgresServer:
    """One ``postgres`` process in its own data directory, on a loopback port."""

    bindir: str
    root: Path
    port: int
    user: pwd.struct_passwd | None
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def start(self) -> None:
        data = self.root / "data"
        log = self.root / "server.log"
        subprocess.run(
            [
                os.path.join(self.bindir, "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
            **self._as_user(),
        )
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    os.path.join(self.bindir, "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=100",
                    "-c",
                    "shared_buffers=32MB",
                    "-c",
                    "dynamic_shared_memory_type=mmap",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                **self._as_user(),
            )
        deadline = time.monotonic() + 30
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"postgres did not come up on port {self.port}:\n"
                    + log.read_text(errors="replace")
                )
            time.sleep(0.05)

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self) -> str:
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        _skip_or_fail(
            "PostgreSQL is not installed (apt-get install postgresql); the PostgreSQL journal "
            "tests need a real server"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip_or_fail(
            "the PostgreSQL driver is not installed (pip install 'tightknit-async[postgres]')"
        )
    user = _service_user()
    # as another user, somewhere that user can reach whatever TMPDIR is
    where = "/tmp" if user is not None and os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="tightknit-pg-", dir=where))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PostgresServer(bindir=bindir, root=root, port=_free_port(), user=user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database of the session's server."""
    return postgres_server.url(postgres_server.create_database())


class JournalBackend:
    """Opens the journal of a backend at a "path": for SQLite the file itself; for PostgreSQL a
    database of the session's server, one per distinct path (so reopening the same path reopens
    the same journal, and another path is another journal)."""

    def __init__(self, name: str, server: PostgresServer | None) -> None:
        self.name = name
        self._server = server
        self._databases: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<JournalBackend {self.name}>"

    def url(self, path: str | os.PathLike[str]) -> str:
        assert self._server is not None
        key = os.fspath(path)
        if key not in self._databases:
            self._databases[key] = self._server.create_database()
        return self._server.url(self._databases[key])

    def __call__(self, path: str | os.PathLike[str], **options: Any) -> Journal:
        if self.name == "sqlite":
            return Journal(path, **options)
        return PostgresJournal(self.url(path), **options)

    def raw(self, path: str | os.PathLike[str]) -> bytes:
        """Everything the journal stored, as bytes (to check that a secret is not there)."""
        if self.name == "sqlite":
            data = b""
            for suffix in ("", "-wal"):
                with contextlib.suppress(FileNotFoundError):
                    data += Path(os.fspath(path) + suffix).read_bytes()
            return data
        import psycopg

        with psycopg.connect(self.url(path)) as conn:
            rows = conn.execute(
                "SELECT t::text FROM tightknit_journal_items AS t UNION ALL "
                "SELECT t::text FROM tightknit_journal_runs AS t UNION ALL "
                "SELECT t::text FROM tightknit_journal_owners AS t"
            ).fetchall()
        return "\n".join(row[0] for row in rows).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_backend(request: pytest.FixtureRequest) -> JournalBackend:
    """Each journal test once per backend: ``journal_backend(path, **options)`` opens one."""
    server = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
    return JournalBackend(request.param, server)
