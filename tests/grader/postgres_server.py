"""A throwaway PostgreSQL server for the gradebook tests: Debian's `postgresql`, on a Unix socket only.

`start_server(folder)` runs `initdb` and `pg_ctl start` in `folder` (as the `postgres` user when
running as root: initdb refuses root) with no TCP listener; `stop_server` stops it. Without
PostgreSQL the tests skip, saying what to install; with RNNCOURSE_REQUIRE_POSTGRES set (CI) they fail.
"""
import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "grader"


@dataclass
class Server:
    folder: Path
    socket_dir: Path
    port: int
    bin_dir: Path

    def url(self, database):
        return f"postgresql://{USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def createdb(self, database):
        subprocess.run([str(self.bin_dir / "createdb"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", USER,
                        database], check=True, capture_output=True, text=True)
        return self.url(database)


def _bin_dir():
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_postgres():
    """The server binaries' folder and the driver; skip (or fail in CI) when either is missing."""
    problems = []
    bin_dir = _bin_dir()
    if bin_dir is None:
        problems.append("PostgreSQL server not installed (Debian/Ubuntu: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        problems.append("driver not installed (pip install 'rnncore[postgres]')")
    if problems:
        message = "PostgreSQL tests need: " + "; ".join(problems)
        if os.environ.get("RNNCOURSE_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return bin_dir


def _as_postgres(cmd):
    """initdb and pg_ctl refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_server(folder, bin_dir, port=55432):
    folder, socket_dir, data = Path(folder), Path(folder) / "socket", Path(folder) / "data"
    socket_dir.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(socket_dir, "postgres")
        os.chmod(folder, 0o755)
        for parent in folder.parents:                    # the postgres user must reach the folder
            if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                os.chmod(parent, os.stat(parent).st_mode | 0o001)
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", USER,
                                 "--encoding=UTF8", "--no-sync"]), check=True, capture_output=True, text=True)
    options = f"-k {socket_dir} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                 str(folder / "server.log"), "-w", "start"]), check=True, capture_output=True, text=True)
    return Server(folder, socket_dir, port, bin_dir)


def stop_server(server):
    subprocess.run(_as_postgres([str(server.bin_dir / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "immediate",
                                 "-w", "stop"]), capture_output=True, text=True)
