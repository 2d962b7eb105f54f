"""A hostile HTTP server on loopback for tests: each connection is handed to a function
that reads the raw request and writes whatever bytes it likes, as slowly as it likes."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable
from typing import Any

Answer = Callable[[bytes, socket.socket], None]


def read_request(sock: socket.socket) -> bytes:
    """Headers and body (by Content-Length) of one request."""
    data = b""
    sock.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class HostileServer:
    def __init__(self, answer: Answer) -> None:
        self.requests: list[bytes] = []
        self.answer = answer
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    request = read_request(self.request)
                    server.requests.append(request)
                    server.answer(request, self.request)
                except OSError:
                    pass  # the client gave up: that is what these tests want

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def respond(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    def answer(request: bytes, sock: socket.socket) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return answer


def trickle(status: str, byte_every: float, total: int) -> Answer:
    """A slowloris answer: one byte of body at a time."""

    def answer(request: bytes, sock: socket.socket) -> None:
        sock.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {total}\r\n\r\n".encode())
        for _ in range(total):
            time.sleep(byte_every)
            sock.sendall(b" ")

    return answer


def endless_chunked(request: bytes, sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def many_headers(request: bytes, sock: socket.socket) -> None:
    headers = "".join(f"X-H{i}: {i}\r\n" for i in range(150))
    sock.sendall(f"HTTP/1.1 200 OK\r\n{headers}Content-Length: 0\r\n\r\n".encode())


class ConnectProxy:
    """A forward proxy that only tunnels (CONNECT host:port), as a corporate HTTPS proxy does."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = client.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                method, target = head.split(b" ")[:2]
                if method != b"CONNECT":
                    client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                proxy.tunnels.append(target.decode())
                host, _, port = target.decode().rpartition(":")
                with socket.create_connection((host, int(port)), timeout=10) as upstream:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    pump(client, upstream)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(a, selectors.EVENT_READ, b)
    selector.register(b, selectors.EVENT_READ, a)
    while True:
        for key, _ in selector.select(timeout=10):
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            if not data:
                return
            key.data.sendall(data)
