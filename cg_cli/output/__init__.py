"""Output: everything that reaches a terminal, a log or a CI runner (text, JSON, progress, annotations).

The lowest wing: it imports only `cg_cli.errors` and `cg_cli.constants` at run time, so every
other wing may use it. Secrets are scrubbed here (`scrub`) before text leaves the process.
"""
