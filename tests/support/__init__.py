"""Helpers the tests share (never imported from a test module or a conftest)."""
