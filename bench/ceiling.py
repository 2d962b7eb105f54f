"""The ceiling for `records import`: the least a Python client can do per row.

Threads with one keep-alive `http.client` connection each, the same PUT body
shape as cg, no retries, no checks. Prints rows per second.

    python bench/ceiling.py URL TOKEN REF ROWS WORKERS
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def main() -> None:
    url, token, reference, rows, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    parts = urlsplit(url)
    numbers = iter(range(1, rows + 1))
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def work() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                break
            body = json.dumps({"configuration": reference, "record": {"Account Name": f"Account {number}"}})
            connection.request("PUT", "/records/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"ceiling client got {response.status}")
        connection.close()

    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # reported below: a ceiling that did not send is no ceiling
            failures.append(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=guarded) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"ceiling client failed: {failures[0]!r}")
    print(f"{rows / (time.perf_counter() - started):.1f}")


if __name__ == "__main__":
    main()
