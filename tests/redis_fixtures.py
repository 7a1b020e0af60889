"""Helpers for the Redis tests: find the Redis at ``REDIS_URL``, or start a ``redis-server``.

Outside CI, a machine with neither skips the Redis tests with the reason; in CI (``CI=true``)
they fail instead, so they cannot be skipped by accident (``.ci/run`` starts a server first).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def in_ci() -> bool:
    """Whether we run in CI, where a missing Redis is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip the test (or fail it in CI) because no Redis can be had."""
    if in_ci():
        pytest.fail(f"Redis tests are mandatory in CI: {reason}")
    pytest.skip(reason)


def answers(url: str) -> bool:
    """Whether a Redis server answers PING at ``url`` within a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` child process on a free loopback port, no persistence.

    Args:
        password: ``requirepass`` for the server, or ``None``.
        port: The port (default: a free one); reuse it to restart the "same" server.
    """

    def __init__(self, *, password: str | None = None, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self.binary = binary
        self.password = password
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="crm-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://[:password@]127.0.0.1:<port>/0``."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait (up to 10 s) until it answers."""
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", self.dir]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if answers(self.url):
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not answer within 10 s")

    def kill(self) -> None:
        """Kill it (SIGKILL, as a crash would) and wait for it to go."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Kill it and remove its directory."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def own_server(password: str | None = None) -> RedisServer:
    """Start a private ``redis-server`` (skips, or fails in CI, when the binary is missing)."""
    try:
        return RedisServer(password=password).start()
    except (FileNotFoundError, RuntimeError) as exc:
        unavailable(f"cannot start redis-server: {exc}")
        raise  # unreachable: unavailable() raises
