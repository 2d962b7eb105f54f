"""cg: push records into CustomerGauge through its PUT Records API."""

__version__ = "0.1.0"
