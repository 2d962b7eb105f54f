"""Write the state a run that pushed every row of FILE would leave behind (`records import --state`).

python bench/fill_state.py FILE CONFIGURATION STATE SANDBOX_URL
"""

from __future__ import annotations

import sys
from pathlib import Path

from cg_cli.importing.delivery import Destination
from cg_cli.importing.journal import row_digest
from cg_cli.importing.state import StateStore
from cg_cli.records.mappings import identity_keys
from cg_cli.records.readers import RecordFile


def sandbox_destination(configuration: str, url: str) -> Destination:
    """The target bench/run.py's cg sends to: the sandbox's URLs and client."""
    return Destination(configuration, url + "/records/", url + "/oauth2/token", "sandbox-client")


def main() -> None:
    path, configuration, state_path, url = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    state = StateStore(state_path, sandbox_destination(configuration, url))
    with RecordFile(path) as rows:
        for row in rows:
            keys = identity_keys(None, row.record)
            if keys:
                state.remember(keys[0], row_digest(row))
    state.close()


if __name__ == "__main__":
    main()
