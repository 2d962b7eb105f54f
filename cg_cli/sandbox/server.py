"""A local stand-in for the token service and the PUT Records API.

It behaves as CustomerGauge documents: form-only token endpoint, tokens that
expire, 401 for a missing or expired token, 422 with `message`/`errors`, an
empty 200, and fields the mapping does not know dropped silently. Under
`/_sandbox/` it shows what it accepted, takes faults to inject and limits to
answer under (control.py, limits.py). This module routes requests and plays
the two services; wire.py reads and writes HTTP.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cg_cli.records.mappings import Mapping
from cg_cli.records.values import value_problems
from cg_cli.sandbox.control import ControlRoutes
from cg_cli.sandbox.faults import Fault
from cg_cli.sandbox.limits import Limits
from cg_cli.sandbox.wire import WireHandler

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_MAPPINGS = (
    Mapping(
        "accounts",
        "53505294-0b20-2509-b15d-c8e377701d66",
        "account",
        ("Account Name", "First Name", "Last Name", "Email"),
    ),
    Mapping("contacts", "contact", "contact", ("Email", "Phone", "First Name", "Last Name", "Account Name")),
)
UNAUTHENTICATED = {"message": "Unauthenticated."}
INVALID = "The given data was invalid."


@dataclass
class SandboxState:
    client_id: str
    client_secret: str
    configurations: dict[str, Mapping]
    token_ttl: float = 3600.0
    limits: Limits = field(default_factory=Limits)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, float] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # every token ever given out
    token_clients: list[str] = field(default_factory=list)  # client ids that asked
    records: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    record_requests: int = 0
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: {"records": deque(), "token": deque()})

    def next_fault(self, target: str) -> Fault | None:
        with self.lock:
            queue = self.faults[target]
            return queue.popleft() if queue else None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "token_requests": self.token_requests,
                "token_clients": list(self.token_clients),
                "record_requests": self.record_requests,
                "records_accepted": len(self.records),
                "faults_pending": {k: len(v) for k, v in self.faults.items()},
                "limits": self.limits.as_json(),
            }


class _Handler(WireHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.log_requests:
            super().log_message(format, *args)

    @property
    def state(self) -> SandboxState:
        return self.server.state

    # --- routing ---------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802 - http.server names them
        path = urlsplit(self.path).path
        body = self.read_body()
        if body is None:
            return
        if path == "/oauth2/token":
            self._with_faults("token", lambda answer: self._token(body))
        elif not ControlRoutes(self, self.state).post(path, body):
            self.send_json(404, {"message": "Not Found."})

    def do_PUT(self) -> None:  # noqa: N802 - http.server names them
        body = self.read_body()
        if body is None:
            return
        if urlsplit(self.path).path not in ("/records/", "/records"):
            self.send_json(404, {"message": "Not Found."})
            return
        limits = self.state.limits
        retry_after = limits.admit()
        if retry_after is not None:  # over a limit: turned away unprocessed, as a throttling service does
            with self.state.lock:
                self.state.record_requests += 1
            self.send_json(429, {"message": "Too Many Attempts."}, {"Retry-After": retry_after})
            return
        try:
            limits.work()
            self._with_faults("records", lambda answer: self._records(body, answer))
        finally:
            limits.leave()

    def do_GET(self) -> None:  # noqa: N802 - http.server names them
        if not ControlRoutes(self, self.state).get(urlsplit(self.path).path):
            self.send_json(404, {"message": "Not Found."})

    # --- the two services -----------------------------------------------
    def _token(self, body: bytes) -> bool:
        """Handle a token request; it is always answered."""
        with self.state.lock:
            self.state.token_requests += 1
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            self.send_json(400, {"error": "invalid_request", "error_description": "form body expected"})
            return True
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        with self.state.lock:
            self.state.token_clients.append(form.get("client_id", ""))
        if form.get("grant_type") != "client_credentials":
            self.send_json(400, {"error": "unsupported_grant_type"})
            return True
        if not (
            secrets.compare_digest(form.get("client_id", ""), self.state.client_id)
            and secrets.compare_digest(form.get("client_secret", ""), self.state.client_secret)
        ):
            self.send_json(401, {"error": "invalid_client"})
            return True
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = time.time() + self.state.token_ttl
            self.state.issued.append(token)
        ttl = self.state.token_ttl
        self.send_json(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": int(ttl) if ttl >= 1 else ttl}
        )
        return True

    def _records(self, body: bytes, answer: bool = True) -> bool:
        """Handle a PUT; True when an answer was sent (always, unless `answer` is False and it succeeded)."""
        with self.state.lock:
            self.state.record_requests += 1
        if not self._authorised():
            self.send_json(401, UNAUTHENTICATED)
            return True
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        configuration, record = _parse_record_body(content_type, body)
        errors = self._validate(configuration, record)
        if errors:
            self.send_json(422, {"message": INVALID, "errors": errors})
            return True
        assert isinstance(configuration, str) and isinstance(record, dict)
        mapping = self.state.configurations[configuration]
        kept = {k: v for k, v in record.items() if k in mapping.fields}
        with self.state.lock:
            self.state.records.append(
                {
                    "configuration": configuration,
                    "record": kept,
                    "dropped": [k for k in record if k not in mapping.fields],
                    "content_type": content_type,
                    "body": body.decode("utf-8", "replace"),
                }
            )
        if answer:
            self.send(200)
        return answer

    def _authorised(self) -> bool:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with self.state.lock:
            expires_at = self.state.tokens.get(token)
        return expires_at is not None and expires_at > time.time()

    def _validate(self, configuration: Any, record: Any) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not configuration:
            errors["configuration"] = ["The configuration field is required."]
        elif not isinstance(configuration, str) or configuration not in self.state.configurations:
            errors["configuration"] = ["The selected configuration is invalid."]
        if not record:
            errors["record"] = ["The record field is required."]
        elif not isinstance(record, dict):
            errors["record"] = ["The record must be an array."]
        if errors:
            return errors
        mapping = self.state.configurations[configuration]
        mapped = {k: v for k, v in record.items() if k in mapping.fields}  # unmapped fields are dropped first
        for problem in value_problems(mapping.type, mapped):  # the same rules cg checks before sending
            errors.setdefault(f"record.{problem.field}", []).append(problem.api_message)
        return errors

    # --- faults ------------------------------------------------------------
    def _with_faults(self, target: str, handle: Callable[[bool], bool]) -> None:
        """Answer through `handle(answer)`, unless a queued fault says otherwise."""
        fault = self.state.next_fault(target)
        if fault is None and target == "records":
            fault = self.state.limits.chaos_fault()
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is None or not (fault.drop or fault.drop_after or fault.status is not None):
            handle(True)
        elif fault.drop:
            self.drop()
        elif fault.drop_after:
            if not handle(False):
                self.drop()
        elif fault.process:
            if not handle(False):
                self._answer_fault(target, fault, counted=True)
        else:
            self._answer_fault(target, fault)

    def _answer_fault(self, target: str, fault: Fault, counted: bool = False) -> None:
        """Answer with the fault's status; `counted` when the handler already counted the request."""
        assert fault.status is not None
        if not counted:
            with self.state.lock:
                if target == "records":
                    self.state.record_requests += 1
                else:
                    self.state.token_requests += 1
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        payload = fault.body if fault.body is not None else json.dumps({"message": f"Injected {fault.status}."})
        self.send(fault.status, payload.encode(), fault.content_type, headers)


def _parse_record_body(content_type: str, body: bytes) -> tuple[Any, Any]:
    """(configuration, record) from a JSON or form body, as a Laravel API reads them."""
    if content_type == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        return data.get("configuration"), data.get("record")
    if content_type == "application/x-www-form-urlencoded":
        configuration = None
        record: dict[str, str] = {}
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            if key == "configuration":
                configuration = value
            elif key.startswith("record[") and key.endswith("]"):
                record[key[len("record[") : -1]] = value
        return configuration, record or None
    return None, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a real service's backlog: 64 workers connecting at once are all heard (not 5)

    def __init__(self, address: tuple[str, int], state: SandboxState, log_requests: bool) -> None:
        self.state = state
        self.log_requests = log_requests
        if ":" in address[0]:
            self.address_family = socket.AF_INET6  # ::1
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout, an injected drop) is normal here, not a traceback."""
        if self.log_requests:
            sys.stderr.write(f"sandbox: connection from {client_address[0]} ended early\n")


class Sandbox:
    """The sandbox server; `start()` runs it in a thread, `serve_forever()` in this one."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        mappings: tuple[Mapping, ...] | list[Mapping] = DEFAULT_MAPPINGS,
        token_ttl: float = 3600.0,
        latency: float = 0.0,
        rate_limit: float | None = None,
        max_concurrent: int | None = None,
        capacity: int | None = None,
        chaos: float = 0.0,
        log_requests: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.state = SandboxState(client_id, client_secret, {m.reference: m for m in mappings}, token_ttl=token_ttl)
        self.state.limits.update(
            {
                "latency": latency,
                "rate_limit": rate_limit,
                "max_concurrent": max_concurrent,
                "capacity": capacity,
                "chaos": chaos,
            }
        )
        self.mappings = tuple(mappings)
        self._server = _Server((host, port), self.state, log_requests)
        if tls is not None:  # HTTPS as the real service speaks it (the tests give a throwaway CA's certificate)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._tls = tls is not None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        if self._tls:
            return f"https://localhost:{port}"  # the name the certificate is for
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="cg-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop a sandbox started with `start()`."""
        self._server.shutdown()
        self.stop_listening()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stop_listening(self) -> None:
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
