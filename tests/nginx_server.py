"""A throwaway nginx for the tests: Debian's nginx, in front of a loopback upstream, on a free port.

It runs in the foreground as our child (``daemon off``, no master process), with every
path it writes (pid, temporary bodies, logs) in the test's own folder, and writes its
access log in the ``log_format`` the test declares.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .redis_server import wait_until
from .system_tools import require_program

__all__ = ["Nginx"]

_CONFIG = """
worker_processes 1;
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    {log_format}
    access_log {root}/access.log {format_name};
    # The test's clients stand for addresses across France: loopback is their proxy.
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # Logged above, never sent to the browser.
            proxy_hide_header X-Audit-Account;
            proxy_hide_header X-Audit-Subject;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Nginx:
    """nginx on a free loopback port, proxying to ``upstream``, logging with ``log_format``."""

    def __init__(self, root: Path, *, upstream: int, log_format: str, format_name: str) -> None:
        self.root = root
        self.executable = require_program("nginx", "nginx-light")
        self.port = _free_port()
        self.access_log = root / "access.log"
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.config = root / "nginx.conf"
        self.config.write_text(
            _CONFIG.format(
                root=root,
                port=self.port,
                upstream=upstream,
                log_format=log_format,
                format_name=format_name,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where clients reach the portal through nginx."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        self.process = subprocess.Popen(
            [str(self.executable), "-c", str(self.config), "-p", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(self.port), f"nginx answers on {self.port}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
