"""Fixtures that start real engines privately (each test run its own, on free ports)."""
