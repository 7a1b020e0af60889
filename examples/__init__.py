"""Runnable examples for the three users of the SDKs: a web app, a bulk job and a sync worker.

Each module's docstring tells how to run it; ``tests/test_examples.py`` runs each against the
sandbox emulators.
"""
