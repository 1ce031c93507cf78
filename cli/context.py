"""What every command gets: its streams, the client settings and the daemon connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from caisson import rpc
    from caisson.cli.client import Daemon


@dataclass
class Context:
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    address: rpc.Address
    tls: rpc.TLSConfig | None
    config_dir: str
    debug: bool = False
    _daemon: Daemon | None = field(default=None, repr=False)

    @property
    def daemon(self) -> Daemon:
        if self._daemon is None:
            from caisson.cli.client import Daemon

            self._daemon = Daemon(self.address, self.tls)
        return self._daemon

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def close(self) -> None:
        if self._daemon is not None:
            self._daemon.close()
