"""Real servers the test session starts on loopback: PostgreSQL and a Chroma server.

Each starter returns a handle with ``stop()``, or raises :class:`ServiceUnavailable` with the reason. In CI
(``CI=true``) conftest turns that reason into a failure: backend tests must run there, never skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """The service could not be started here; the message says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServiceUnavailable("PostgreSQL is not installed (no initdb): apt-get install postgresql")


@dataclass
class PostgresServer:
    url: str
    data_dir: Path
    bindir: Path
    run_as: list[str]
    options: str = ""

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data_dir / "data"), *args]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> subprocess.CompletedProcess[str]:
        log = str(self.data_dir / "server.log")
        return self.pg_ctl("-l", log, "-w", "-t", "60", "-o", self.options, "start", check=False)

    def halt(self) -> None:
        """Stop the server, dropping every connection; the data stays and :meth:`start` brings it back.

        A fast (not immediate) shutdown: this server runs with ``synchronous_commit=off`` for speed, so an
        immediate stop could lose the last commits, which is not the fault under test.
        """
        self.pg_ctl("-m", "fast", "stop", check=False)

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb + pg_ctl start in a temp dir, trust auth, on a free loopback port (as ``postgres`` if root)."""
    bindir = _postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="memstore-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise ServiceUnavailable("running as root and runuser is missing: cannot start PostgreSQL")
        shutil.chown(root, user="postgres")
        os.chmod(root, 0o700)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=300"
    )
    server = PostgresServer(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        data_dir=root,
        bindir=bindir,
        run_as=run_as,
        options=options,
    )
    init = subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(root / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ServiceUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
    started = server.start()
    if started.returncode != 0:
        log = (
            (root / "server.log").read_text(errors="replace")[-800:] if (root / "server.log").exists() else ""
        )
        shutil.rmtree(root, ignore_errors=True)
        raise ServiceUnavailable(f"PostgreSQL did not start: {started.stderr.strip()} {log}")
    return server


# -- Chroma server ------------------------------------------------------------------------------------------


@dataclass
class ChromaServer:
    """A ``chroma run`` process on loopback with its data in a temp dir."""

    host: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None

    @property
    def url(self) -> str:
        """The ``vectors=`` URL of this server for :class:`memstore.Memstore`."""
        return f"chroma+http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        if self.process is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _chroma_alive(host: str, port: int) -> bool:
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        with opener.open(f"http://{host}:{port}/api/v2/heartbeat", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_chroma(timeout: float = 60.0, root: Path | None = None) -> ChromaServer:
    """``chroma run`` (the console script beside this interpreter) on a free loopback port, offline; on the
    data of a stopped server when ``root`` is that server's ``data_dir``."""
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if executable is None:
        raise ServiceUnavailable("the chroma command is not installed (pip install chromadb)")
    root = root if root is not None else Path(tempfile.mkdtemp(prefix="memstore-chroma-"))
    port = free_port()
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [executable, "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    log.close()
    server = ChromaServer(host="127.0.0.1", port=port, data_dir=root, process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (root / "server.log").read_text(errors="replace")[-800:]
            shutil.rmtree(root, ignore_errors=True)
            raise ServiceUnavailable(f"chroma run exited with {process.returncode}: {output}")
        if _chroma_alive(server.host, port):
            return server
        time.sleep(0.1)
    output = (root / "server.log").read_text(errors="replace")[-800:]
    server.stop()
    raise ServiceUnavailable(f"chroma run did not answer its heartbeat within {timeout:.0f}s: {output}")
