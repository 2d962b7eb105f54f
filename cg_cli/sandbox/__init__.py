"""Sandbox: the local stand-in for CustomerGauge's token and records services, with injected faults.

The top wing: it may import any wing below it, and nothing in cg_cli but `commands` imports it.
"""
