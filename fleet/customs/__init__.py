"""Customs clearance: the signed event envelope, clearance state, the gate rule and the gate service core.

Pure logic lives in ``envelope``, ``signing`` and ``clearance``; ``gate`` ties them to the store.
Transports (ZeroMQ, HTTP) only call :meth:`CustomsGate.ingest`.
"""
