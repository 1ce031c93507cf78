"""Helpers for the integration tests and the benchmark: a real registry (no auth, basic, token),
test images built without internet, a fault-injecting proxy, and the Caisson daemon and CLI
started from the venv. Import as `tests.support.*` with the repository root on sys.path."""
