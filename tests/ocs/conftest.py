"""OCS fixtures: a throwaway PostgreSQL cluster per test session, fresh databases per test."""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest


def _pg_bin() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


@dataclass
class PgCluster:
    host: str
    port: int
    bindir: str
    run_as: list[str]
    _counter: Iterator[int]

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{db}"

    def new_database(self) -> str:
        name = f"ocs_test_{os.getpid()}_{next(self._counter)}"

        async def create() -> None:
            conn = await asyncpg.connect(self.url())
            try:
                await conn.execute(f"CREATE DATABASE {name}")
            finally:
                await conn.close()
        asyncio.run(create())
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """initdb + pg_ctl a private cluster (as the `postgres` user when run as root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    run_as: list[str] = []
    tmp = tempfile.mkdtemp(prefix="ocs-pg-")
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(tmp, "postgres", "postgres")
    data = os.path.join(tmp, "data")
    port = _free_port()
    subprocess.run([*run_as, os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U",
                    "postgres", "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run([*run_as, os.path.join(bindir, "pg_ctl"), "-D", data, "-o", opts, "-l",
                    os.path.join(tmp, "log"), "-w", "-t", "60", "start"],
                   check=True, capture_output=True, timeout=90)
    try:
        yield PgCluster("127.0.0.1", port, bindir, run_as, itertools.count())
    finally:
        subprocess.run([*run_as, os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database URL of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "ocs.sqlite3")
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()
