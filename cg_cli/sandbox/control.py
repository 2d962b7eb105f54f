"""The sandbox's control endpoints under `/_sandbox/`: what it accepted, its counters, faults to
inject, tokens to expire, and the limits it answers under (changeable while an import runs).

| endpoint | does |
| --- | --- |
| `GET /_sandbox/records` | the records accepted |
| `GET /_sandbox/stats` | request counters, faults waiting, the limits and what they refused |
| `GET /_sandbox/limits` | the limits now |
| `POST /_sandbox/limits` | change some limits: `{"rate_limit": 25}`; null lifts one; answers the limits now |
| `POST /_sandbox/faults` | queue faults (a JSON object or a list of them) |
| `POST /_sandbox/expire-tokens` | every token given out so far expires |
| `POST /_sandbox/reset` | forget records, counters and queued faults (the limits stay) |
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cg_cli.sandbox.faults import MAX_FAULT_COUNT, Fault, fault_count
from cg_cli.sandbox.wire import WireHandler

if TYPE_CHECKING:
    from cg_cli.sandbox.server import SandboxState

PREFIX = "/_sandbox/"


class ControlRoutes:
    def __init__(self, handler: WireHandler, state: SandboxState) -> None:
        self._handler = handler
        self._state = state

    def get(self, path: str) -> bool:
        """Answer a GET of a control endpoint; False when `path` is none of them."""
        state, handler = self._state, self._handler
        if path == PREFIX + "records":
            with state.lock:
                records = list(state.records)
            handler.send_json(200, {"records": records})
        elif path == PREFIX + "stats":
            handler.send_json(200, state.snapshot())
        elif path == PREFIX + "limits":
            handler.send_json(200, state.limits.as_json())
        else:
            return False
        return True

    def post(self, path: str, body: bytes) -> bool:
        """Answer a POST to a control endpoint; False when `path` is none of them."""
        state, handler = self._state, self._handler
        if path == PREFIX + "faults":
            self._add_faults(body)
        elif path == PREFIX + "limits":
            try:
                state.limits.update(json.loads(body or b"{}"))
            except ValueError as exc:  # JSONDecodeError is a ValueError
                handler.send_json(400, {"message": str(exc)})
                return True
            handler.send_json(200, state.limits.as_json())
        elif path == PREFIX + "expire-tokens":
            with state.lock:
                state.tokens.clear()
            handler.send(204)
        elif path == PREFIX + "reset":
            with state.lock:
                state.records.clear()
                state.token_requests = state.record_requests = 0
                state.token_clients.clear()
                for queue in state.faults.values():
                    queue.clear()
            handler.send(204)
        else:
            return False
        return True

    def _add_faults(self, body: bytes) -> None:
        state = self._state
        try:
            data = json.loads(body or b"[]")
            items = data if isinstance(data, list) else [data]
            faults = [(Fault.from_json(item), fault_count(item)) for item in items]
            with state.lock:
                queued = sum(len(q) for q in state.faults.values())
            if queued + sum(count for _, count in faults) > MAX_FAULT_COUNT:
                raise ValueError(f"at most {MAX_FAULT_COUNT} faults may wait at once")
        except (ValueError, TypeError, AttributeError) as exc:
            self._handler.send_json(400, {"message": str(exc)})
            return
        with state.lock:
            for fault, count in faults:
                state.faults[fault.target].extend([fault] * count)
        self._handler.send(204)
