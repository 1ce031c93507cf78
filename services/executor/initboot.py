"""How the container init starts: containerinit.py in an interpreter without site.

The init is a fresh interpreter on every container start and exec (monitor.c execs it). The
site module alone (the venv's .pth files, the editable install's import finder) takes it about
12 ms, more than the init's own work. Without site, `caisson` is not importable: the executor
names the directories of the two packages the init imports from, `caisson` and
`caisson.executor`, and this script makes them packages over those directories, then runs the
init. The init needs nothing else outside the stdlib.

-I (isolated): no PYTHON* variable is read, and the script's directory is not put on sys.path
(this directory's copy.py would hide the stdlib's). -B when the executor writes no bytecode
either (`make compile` writes it beforehand).
"""

from __future__ import annotations

import os
import sys


def argv(python: str, init_json: str) -> list[str]:
    """The init's command line, for the executor: its `caisson` is the one the init imports."""
    import caisson
    from caisson import executor

    flags = ["-I", "-S", *(["-B"] if sys.dont_write_bytecode else [])]
    script = os.path.abspath(__file__)
    return [python, *flags, script, caisson.__path__[0], executor.__path__[0], init_json]


def _package(name: str, directory: str) -> None:
    # As a namespace package is made: its modules are found in `directory`, no __init__.py runs
    # (caisson's and caisson.executor's hold nothing the init uses).
    module = type(sys)(name)
    module.__path__ = [directory]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def main() -> int:
    caisson_dir, executor_dir, init_json = sys.argv[1:]
    _package("caisson", caisson_dir)
    _package("caisson.executor", executor_dir)
    from caisson.executor import containerinit

    return containerinit.main([sys.argv[0], init_json])


if __name__ == "__main__":
    sys.exit(main())
