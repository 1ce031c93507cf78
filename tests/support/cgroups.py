"""A cgroup of the host's real hierarchies for a test, under a parent of its own."""

from __future__ import annotations

import contextlib
import glob
import secrets
from collections.abc import Iterator

from caisson.executor.cgroup_manager import Cgroup, open_cgroup


def leftovers(parent: str) -> list[str]:
    """The directories of `parent` still in any hierarchy (v2 and each v1 controller)."""
    return glob.glob(f"/sys/fs/cgroup/{parent}") + glob.glob(f"/sys/fs/cgroup/*/{parent}")


@contextlib.contextmanager
def host_cgroup(name: str) -> Iterator[Cgroup]:
    """Cgroup `name` under caisson-test-<random>; its processes are killed and every
    directory of the parent removed afterwards, even when the test failed."""
    parent = f"caisson-test-{secrets.token_hex(4)}"
    cg = open_cgroup(name, parent)
    try:
        yield cg
    finally:
        try:
            if cg.exists():
                cg.kill_all()
                cg.remove()
        finally:
            cg.remove_parent()
            assert leftovers(parent) == []
