"""Outages the operations tests cause for real: a TCP forwarder that can drop every connection
(a database server out of reach), a SQLite file whose directory goes away; the deploy files read
as systemd reads them."""
from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from simulator.testing import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blanks skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def unit_settings(unit: str) -> dict[str, list[str]]:
    """The [Service] settings of a unit of deploy/systemd: name -> values in order."""
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# Figures of the multi-node test (tests/ops/test_multinode.py), shown in the terminal summary.
figures_key = pytest.StashKey[list]()


def terminal_summary(terminalreporter) -> None:
    for line in terminalreporter.config.stash.get(figures_key, []):
        terminalreporter.write_line(line)


class Forwarder:
    """127.0.0.1:<port> forwarded to (host, target_port); `cut()` drops every connection and
    drops new ones at once until `restore()`."""

    def __init__(self, host: str, target_port: int):
        self.target = (host, target_port)
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.open = True
        self.listener: socket.socket | None = None

    def start(self) -> "Forwarder":
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.open:  # the server is out of reach: the connection drops at once
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
