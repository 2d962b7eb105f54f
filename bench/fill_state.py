"""Write the state a run that pushed every row of FILE would leave behind (`records import --state`).

python bench/fill_state.py FILE CONFIGURATION STATE
"""

from __future__ import annotations

import sys
from pathlib import Path

from cg_cli.importing.journal import row_digest
from cg_cli.importing.state import StateStore
from cg_cli.records.mappings import identity_keys
from cg_cli.records.readers import RecordFile


def main() -> None:
    path, configuration, state_path = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    state = StateStore(state_path, configuration)
    with RecordFile(path) as rows:
        for row in rows:
            keys = identity_keys(None, row.record)
            if keys:
                state.remember(keys[0], row_digest(row))
    state.close()


if __name__ == "__main__":
    main()
