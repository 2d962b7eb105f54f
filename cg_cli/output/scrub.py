"""Taking secrets back out of what a server echoes: every encoding a secret travels in.

A token service that echoes its form body shows the client secret
percent-encoded (`p%40ss+w0rd`); a proxy may echo a Basic header (base64) or
a JSON string (escaped). A server's text is cut to an excerpt after it was
scrubbed, and a long prefix of a secret left at the end of a cut is scrubbed too.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_PREFIX = 8  # a cut secret keeps at least this many characters to be recognised


class Scrubber:
    def __init__(self, *secrets: str, basic_user: str | None = None) -> None:
        forms: set[str] = set()
        for secret in filter(None, secrets):
            forms |= {secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1]}
            forms.add(quote(secret, safe="/"))
            forms.add(base64.b64encode(secret.encode()).decode())
            if basic_user is not None:
                forms.add(base64.b64encode(f"{basic_user}:{secret}".encode()).decode())
        # Longest first: a form that contains another is replaced whole.
        self._forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def cut(self, text: str, limit: int) -> str:
        """`text` scrubbed, then cut to `limit` characters, with no secret's prefix left at the cut."""
        text = self(text)
        if len(text) <= limit:
            return text
        kept = text[:limit]
        for form in self._forms:
            for size in range(min(len(form) - 1, len(kept)), MIN_PREFIX - 1, -1):
                if kept.endswith(form[:size]):
                    kept = kept[:-size] + MASK
                    break
        return kept + "…"
