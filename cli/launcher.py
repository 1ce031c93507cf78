"""Writes the `caisson` command of a development install (`make setup`).

pip's console script runs the interpreter with site, and in an editable install site loads
setuptools' import finder for the package layout (caisson -> services/common, caisson.cli ->
cli, ...): with pathlib behind it, ~11 ms of every command, more than parsing the command line
and building the request together. The script written here starts the interpreter without
site (-I -S) and finds caisson's packages itself, by their directories (the CLI uses some pure
logic of the daemon's, e.g. its IPAM checks), everything else (caisson_api, protobuf) on
sys.path. Directories come
from the install that runs this, so the script follows a moved checkout only after
`make setup` again. A regular (non-editable) install keeps pip's script: its site is cheap.

    python -m caisson.cli.launcher PATH
"""

from __future__ import annotations

import os
import site
import sys

_SUBPACKAGES = ("cli", "daemon", "executor", "registry_proxy")
_SCRIPT = '''#!{python} -IS
# The `caisson` command, written by `make setup` (caisson.cli.launcher): no site, see there.
import sys
from importlib.machinery import ModuleSpec, SourceFileLoader

sys.path += {paths!r}
_PACKAGES = {packages!r}


class _Packages:
    """Finds caisson's packages in their directories (setuptools' package-dir)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        directory = _PACKAGES.get(name)
        if directory is None:
            return None
        init = directory + "/__init__.py"
        spec = ModuleSpec(name, SourceFileLoader(name, init), origin=init, is_package=True)
        spec.submodule_search_locations = [directory]
        spec.has_location = True
        return spec


sys.meta_path.insert(0, _Packages)
from caisson.cli.main import main

sys.exit(main())
'''


def script() -> str:
    """The launcher for the interpreter and packages this process runs with."""
    import importlib

    import caisson_api

    packages = {}
    for name in ("caisson", *(f"caisson.{sub}" for sub in _SUBPACKAGES)):
        packages[name] = importlib.import_module(name).__path__[0]
    # caisson_api is a plain package: its parent directory goes on sys.path, after what site
    # would have added (protobuf's site-packages).
    paths = [*site.getsitepackages(), os.path.dirname(caisson_api.__path__[0])]
    return _SCRIPT.format(python=sys.executable, paths=paths, packages=packages)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m caisson.cli.launcher PATH", file=sys.stderr)
        return 2
    path = argv[1]
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(script())
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
