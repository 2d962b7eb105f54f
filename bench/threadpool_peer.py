"""The peer for `records import`: what a user would write with requests and a thread pool.

One requests.Session per thread, `csv.DictReader`, `ThreadPoolExecutor.map`,
`raise_for_status`: no retries, no journal, no checks. Prints rows per second.

    python bench/threadpool_peer.py URL TOKEN REF CSV WORKERS
"""

from __future__ import annotations

import csv
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests


def main() -> None:
    url, token, reference, path, workers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    local = threading.local()

    def put(row: dict[str, Any]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.put(
            f"{url}/records/",
            json={"configuration": reference, "record": {k: v for k, v in row.items() if v}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        response.raise_for_status()

    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8-sig") as stream, ThreadPoolExecutor(workers) as pool:
        rows = sum(1 for _ in pool.map(put, csv.DictReader(stream)))
    print(rows / (time.perf_counter() - started))


if __name__ == "__main__":
    main()
