"""Importing: one `records import` run (pre-flight, workers, journal, state, failed and results files).

May import `service`, `config`, `records` and `output`; never `sandbox`. It takes its sender as a
protocol, so the whole run can be driven with a fake sender and no socket.
"""
