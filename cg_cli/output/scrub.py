"""Taking secrets back out of what a server echoes: every encoding a secret travels in.

A token service that echoes its form body shows the client secret
percent-encoded (`p%40ss+w0rd`); a proxy may echo a Basic header (base64) or
a JSON string (escaped). The whole answer is scrubbed as it arrives (`service/client.py`), before
any excerpt of it is cut, so no cut can leave part of a secret behind.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

MASK = "***"


class Scrubber:
    def __init__(self, *secrets: str, basic_user: str | None = None) -> None:
        forms: set[str] = set()
        for secret in filter(None, secrets):
            # As sent, percent-encoded (every reserved character, or all but '/' as in a URL path), form-encoded.
            forms |= {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
            forms.add(json.dumps(secret)[1:-1])  # inside a JSON string: '"', '\\' and non-ASCII escaped
            forms.add(base64.b64encode(secret.encode()).decode())
            if basic_user is not None:
                forms.add(base64.b64encode(f"{basic_user}:{secret}".encode()).decode())
        # Longest first: a form that contains another is replaced whole.
        self._forms = sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text
