"""A throwaway PostgreSQL server for tests and bench demos: initdb + pg_ctl in a temp folder.

It listens on a unix socket in that folder only (no TCP port), trusts local connections, and
is removed on stop(). PostgreSQL refuses to run as root, so under root it runs as the
`postgres` user (or `nobody`) and the folder is given to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tokenctl.errors import TokenError

DEBIAN_BIN = "/usr/lib/postgresql/*/bin"


class PgUnavailable(TokenError):
    """No PostgreSQL server binaries on this machine."""


def find_bin() -> Path:
    """The folder holding initdb and pg_ctl: $PG_BIN, Debian's newest, or PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob(DEBIAN_BIN), key=_major, reverse=True)
    found = shutil.which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PgUnavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) in {DEBIAN_BIN} or PATH")


class TempPostgres:
    def __init__(self, db: str = "tokenctl") -> None:
        self.db = db
        self.bin = find_bin()
        self.user = _server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="tokpg-"))  # short: socket paths are limited
        self.data = self.dir / "data"
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql://{self.user.pw_name}@/{self.db}?host={self.dir}"

    def start(self) -> TempPostgres:
        try:
            if os.getuid() == 0:
                os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user.pw_name,
                      "--no-sync", "-E", "UTF8")  # fmt: skip
            options = f"-k {self.dir} -c listen_addresses='' -c fsync=off"
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                      str(self.dir / "server.log"), "-w", "-t", "30", "start")  # fmt: skip
            self._started = True
            self._run("createdb", "-h", str(self.dir), "-U", self.user.pw_name, self.db)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, tool: str, *args: str) -> None:
        exe = self.bin / tool
        if not exe.is_file():
            exe = Path(shutil.which(tool) or exe)
        as_user = self.user.pw_name if os.getuid() == 0 else None
        proc = subprocess.run([str(exe), *args], capture_output=True, text=True, user=as_user,
                              cwd=self.dir, timeout=60)  # fmt: skip
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
            raise TokenError(f"{tool} failed: {(proc.stderr or proc.stdout).strip()}\n{tail}")


def _server_user() -> pwd.struct_passwd:
    if os.getuid() != 0:
        return pwd.getpwuid(os.getuid())
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PgUnavailable("running as root and there is no postgres or nobody user to run as")


def _major(folder: str) -> int:
    try:
        return int(Path(folder).parent.name)
    except ValueError:
        return 0
