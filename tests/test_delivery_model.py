"""Random sequences of imports, kills, overlapping runs, changed inputs, target switches and faults,
with the delivery model's promises checked after every step (`tests/delivery_model.py`).

`make test` runs it for SOAK_SECONDS (default 40) with a fresh seed each time, printed on failure
together with the steps that led there; `make soak` runs it for 10 minutes and prints the steps tried.
Set SOAK_SEED to replay a seed.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.delivery_model import explore


def test_random_sequences_keep_the_delivery_promises(tmp_path: Path) -> None:
    seconds = float(os.environ.get("SOAK_SECONDS", "40"))
    seed = int(os.environ.get("SOAK_SEED", random.randrange(1_000_000)))
    model = explore(tmp_path, seconds, seed)
    print(f"delivery model: {model.steps} steps tried in {seconds:.0f} s (seed {seed}); {dict(model.exits)}")
    assert model.steps > 0
