"""A throw-away PostgreSQL server for tests (used by the monitoring tests' ``pg_url`` fixture).

Order: the URL in ``WELFARE_EVAL_TEST_PG_URL`` (CI: ``.ci/start_postgres.sh`` sets it); otherwise a
cluster started here from ``/usr/lib/postgresql/*/bin`` (``initdb`` + ``pg_ctl``) in a temporary
folder on a free port, stopped and deleted at the end of the session. As root, ``initdb`` refuses to
run, so the cluster is run as the ``postgres`` user (``runuser``) with the folder chowned to it.
``None`` (the tests skip with the reason) when no PostgreSQL binaries exist.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ENV = "WELFARE_EVAL_TEST_PG_URL"


@dataclass
class Cluster:
    url: str
    datadir: Path | None = None
    bindir: Path | None = None
    user: str | None = None

    def stop(self) -> None:
        if self.datadir is None or self.bindir is None:
            return
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as(cmd, self.user), capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _as(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *cmd]
    return ["su", user, "-s", "/bin/sh", "-c", " ".join(cmd)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<version>/bin`` with initdb and pg_ctl (or those on PATH)."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                   if Path(p).parent.name.isdigit() else 0)
    for c in reversed(cands):
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def start() -> tuple[Cluster | None, str]:
    """A running server: ``(cluster, "")`` or ``(None, reason)``."""
    url = os.environ.get(ENV)
    if url:
        return Cluster(url), ""
    bindir = find_bindir()
    if bindir is None:
        return None, f"no PostgreSQL binaries (/usr/lib/postgresql/*/bin) and {ENV} is not set"
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            import pwd

            pw = pwd.getpwnam(user)
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run initdb as"
    root = Path(tempfile.mkdtemp(prefix="welfare_eval_pg_"))
    data = root / "data"
    if user is not None:
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
    port = _free_port()
    run = lambda cmd: subprocess.run(_as(cmd, user), capture_output=True, text=True, timeout=120)  # noqa: E731
    r = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
    if r.returncode != 0:
        r = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                 "--no-locale", "--no-sync"])
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return None, f"initdb failed: {r.stderr.strip()[-300:]}"
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
    r = run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60",
             "start"])
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return None, f"pg_ctl start failed: {r.stderr.strip()[-300:]}"
    cl = Cluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data, bindir, user)
    for _ in range(50):  # the server may take a moment to accept TCP connections
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    return cl, ""
