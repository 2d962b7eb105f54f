"""Config: settings and where a push goes (option > env > .env > profile), profiles, private files.

May import `records` and `output`; never `service`, `importing` or `sandbox`.
"""
