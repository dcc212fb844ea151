"""A throwaway PostgreSQL server (tests, benchmarks), from the PostgreSQL binaries on the machine.

CI runs as root and PostgreSQL refuses to run as root, so the server runs as the ``postgres`` user (via
runuser) in a temporary folder that user owns, listening on a loopback port only."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from platformctl.stack import free_port


def find_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    _as_user: list[str]

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *args], check=True, capture_output=True, text=True, timeout=120
        )

    @classmethod
    def start(cls, settings: dict[str, str] | None = None) -> PostgresServer:
        """``settings``: server settings (``-c name=value``) that replace or add to the defaults below,
        which are for tests (fsync and synchronous commit off); the benchmarks turn durability back on."""
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found on this machine")
        root = Path(tempfile.mkdtemp(prefix="medins-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(bindir, root, free_port(), as_user)
        server._run(
            str(bindir / "initdb"),
            "-D",
            str(server.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )
        values = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "400",
            "shared_buffers": "256MB",
            **(settings or {}),
        }
        options = " ".join([f"-p {server.port}", *(f"-c {name}={value}" for name, value in values.items())])
        server._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(server.datadir),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return server

    def url(self, database: str, *, unix_socket: bool = False) -> str:
        """The database's URL over the loopback port, or over the server's Unix socket (in its folder)."""
        if unix_socket:
            return f"postgresql+asyncpg://postgres@/{database}?host={self.root}&port={self.port}"
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """A new database named ``prefix_<random>``; ``template``: a copy of that database (``CREATE
        DATABASE ... TEMPLATE``, a file copy: no one may be connected to the template meanwhile)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        copy = ["-T", template] if template else []
        address = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        subprocess.run(
            [str(self.bindir / "createdb"), *address, *copy, name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return name

    def stop(self, *, wait_for_cleanup: bool = True) -> None:
        """Stop the server and delete its folder. A test session's server holds hundreds of databases
        (a few hundred thousand files): with ``wait_for_cleanup=False`` the deletion runs in a detached
        ``rm -rf`` so that the caller need not wait for it."""
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop")
        finally:
            if wait_for_cleanup:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                subprocess.Popen(
                    ["rm", "-rf", str(self.root)],
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
