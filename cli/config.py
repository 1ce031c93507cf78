"""The client's config directory (`--config`, $CAISSON_CONFIG, ~/.caisson) and its config.json.

config.json has Docker's shape so the two read each other's logins:
`{"auths": {"host:port": {"auth": base64("user:pass")}}}`. It holds passwords, so the file
is 0600 in a 0700 directory and is replaced atomically: a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

from caisson.cli.errors import CLIError

CONFIG_FILE = "config.json"


def default_dir(environ: Mapping[str, str]) -> str:
    return environ.get("CAISSON_CONFIG") or os.path.join(os.path.expanduser("~"), ".caisson")


def path(config_dir: str) -> str:
    return os.path.join(config_dir, CONFIG_FILE)


def load(config_dir: str) -> dict[str, Any]:
    """The config, or an empty one when there is none yet."""
    p = path(config_dir)
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot read client config {p}: {e}") from None
    if not isinstance(data, dict):
        raise CLIError(f"cannot read client config {p}: not a JSON object")
    return data


def save(config_dir: str, data: Mapping[str, Any]) -> None:
    """Writes config.json atomically, mode 0600, creating the directory 0700."""
    # Imported here: tempfile (with random and shutil) costs every command ~3 ms at start.
    import tempfile

    p = path(config_dir)
    try:
        os.makedirs(config_dir, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=config_dir)
    except OSError as e:
        raise CLIError(f"cannot write client config {p}: {e.strerror}") from None
    try:
        # mkstemp already creates the file 0600; chmod again in case of an odd umask/ACL.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CLIError(f"cannot write client config {p}: {e.strerror}") from None
