"""Fixture package for wharf's publishing-client tests."""

__version__ = "0.0.0"
