"""The command groups; each module is thin: gather input, call the core, render."""
