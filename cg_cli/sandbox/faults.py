"""The faults the sandbox can be told to inject (`POST /_sandbox/faults`), each value checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FAULT_COUNT = 10_000  # faults waiting at once
MAX_FAULT_DELAY = 600.0


@dataclass
class Fault:
    """What to do to the next request for `target` (records or token)."""

    target: str = "records"
    status: int | None = None
    retry_after: str | None = None
    body: str | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer, request unprocessed
    drop_after: bool = False  # process the request, then close without an answer
    process: bool = False  # with `status`: process the request, then answer with the fault

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """A fault from its JSON, every value checked: a bad one is a 400, never a silent drop."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed - {"count"}
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        values = {k: v for k, v in data.items() if k in allowed}
        if type(values.get("retry_after")) is int:  # seconds given as a number
            values["retry_after"] = str(values["retry_after"])
        fault = cls(**values)
        if fault.target not in ("records", "token"):
            raise ValueError(f"unknown target {fault.target!r}")
        if fault.status is not None and (type(fault.status) is not int or not 100 <= fault.status <= 599):
            raise ValueError("status must be an integer from 100 to 599")
        if type(fault.delay) not in (int, float) or not 0 <= fault.delay <= MAX_FAULT_DELAY:
            raise ValueError(f"delay must be a number of seconds from 0 to {MAX_FAULT_DELAY:g}")
        for flag in ("drop", "drop_after", "process"):
            if not isinstance(getattr(fault, flag), bool):
                raise ValueError(f"{flag} must be true or false")
        for text in ("retry_after", "body", "content_type"):
            if getattr(fault, text) is not None and not isinstance(getattr(fault, text), str):
                raise ValueError(f"{text} must be a string")
        return fault


def fault_count(data: dict[str, Any]) -> int:
    count = data.get("count", 1)
    if type(count) is not int or not 1 <= count <= MAX_FAULT_COUNT:
        raise ValueError(f"count must be an integer from 1 to {MAX_FAULT_COUNT}")
    return count
