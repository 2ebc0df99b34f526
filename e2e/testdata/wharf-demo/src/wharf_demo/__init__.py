"""Fixture package for wharf's end-to-end tests."""

__version__ = "0.0.0"

# Tests rewrite this line to produce a different file under the same name.
MARKER = "original"
