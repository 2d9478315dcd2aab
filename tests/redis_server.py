"""Throwaway Redis servers for the tests: Debian's redis-server on a free loopback port.

The suite never relies on a Redis already running: ``tests/conftest.py`` starts one
for the whole session (``redis_url``), and the outage tests start their own to stop
and restart it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from .system_tools import require_program

__all__ = ["Throwaway", "wait_until"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    client = redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=0.2, socket_connect_timeout=0.2
    )
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test, saying ``what``, after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds} s waiting until {what}")
        time.sleep(0.02)


class Throwaway:
    """A redis-server of the test's own on a free loopback port, never a shared one.

    It runs in the foreground as our child, so that it is stopped and reaped by its handle.
    Nothing is saved to disk.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.executable = require_program("redis-server", "redis-server")
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (empty: nothing is saved) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                str(self.executable),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(self.port), f"redis-server answers on port {self.port}")

    def shutdown(self) -> None:
        """Stop the server without saving, as an outage would, and reap it."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        finally:
            client.close()
        if self.process is not None:
            self.process.wait(timeout=10)
        wait_until(lambda: not _answers(self.port), f"redis-server on {self.port} stops")

    def kill(self) -> None:
        """Make sure the server is gone, whatever state the test left it in."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
