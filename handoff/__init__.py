"""Handoff's domain and application core.

Everything in this package is pure: it imports only the standard library and itself, never calls
``now()``, and does no I/O. Adapters (``adapters/``), documents (``labels/``), workers and the API
stand around it and talk to it through the Protocols of :mod:`handoff.ports`.
"""
