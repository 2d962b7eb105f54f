"""Service: the one HTTP boundary to CustomerGauge (session, retries, tokens, answers → errors).

May import `config`, `records` and `output`; never `importing` or `sandbox`. Importing
`service.client` imports requests, so commands load it only when a request is sent.
"""
