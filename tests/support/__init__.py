"""Helpers the tests share across their folders: stand-ins and tiny models (importable as
``tests.support.*``; the repository root is on pytest's ``pythonpath``)."""
