"""Caisson: a container engine. Code shared by the CLI and the three services."""

__version__ = "0.1.0"
