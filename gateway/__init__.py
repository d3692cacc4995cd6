"""scopegate: an OAuth 2.0 scope-enforcing gateway and authorization server."""

__version__ = "0.1.0"
