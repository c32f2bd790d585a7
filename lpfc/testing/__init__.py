"""Helpers for lpfc's tests: the exported model zoo (:mod:`lpfc.testing.zoo`)."""
