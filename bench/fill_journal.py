"""Write the journal a run that sent every row of FILE would leave behind.

python bench/fill_journal.py FILE CONFIGURATION SANDBOX_URL
"""

from __future__ import annotations

import sys

from fill_state import sandbox_destination

from cg_cli.importing.journal import SENT, Journal, RunState, default_journal_path, row_digest
from cg_cli.importing.request import input_fingerprint
from cg_cli.records.readers import RecordFile


def main() -> None:
    path, configuration, url = sys.argv[1], sys.argv[2], sys.argv[3]
    journal = Journal(default_journal_path(path), sandbox_destination(configuration, url))
    journal.open(create=True)
    journal.begin_run(input_fingerprint(path))
    with RecordFile(path) as rows:
        for row in rows:
            journal.record(row.number, row_digest(row), SENT)
    journal.end_run(RunState.INTERRUPTED)
    journal.close()


if __name__ == "__main__":
    main()
