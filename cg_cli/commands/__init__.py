"""The command groups; each module is thin: gather input, call the core, render.

The top wing: commands may import every wing, and no wing imports them.
"""
