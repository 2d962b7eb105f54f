"""The sandbox's HTTP plumbing: reading a request body within the API's limit, writing an answer,
dropping a connection. The routing and the two services build on it (server.py)."""

from __future__ import annotations

import contextlib
import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any

from cg_cli.constants import API_BODY_LIMIT

MAX_DRAINED = 64 << 20  # a larger body is not even read away: the connection is closed


class WireHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def read_body(self) -> bytes | None:
        """The request body, or None after answering 400/411/413 for one the sandbox will not read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_json(411, {"message": "Length Required."})
            return None
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            self.close_connection = True
            self.send_json(400, {"message": "Bad Content-Length."})
            return None
        length = int(raw)
        if length > API_BODY_LIMIT:
            self.close_connection = True
            if length <= MAX_DRAINED:  # read it away first, so the client sees the 413, not a broken pipe
                remaining = length
                while remaining > 0 and (chunk := self.rfile.read(min(1 << 16, remaining))):
                    remaining -= len(chunk)
            self.send_json(413, {"message": "Payload Too Large."})
            return None
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(data).encode(), "application/json", headers)

    def send(
        self, status: int, body: bytes = b"", content_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type and body:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
