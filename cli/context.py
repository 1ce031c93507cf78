"""What every command gets: its streams, the client settings and the daemon connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from caisson import addresses
    from caisson.cli.client import Daemon


class Context:
    def __init__(
        self,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
        address: addresses.Address,
        tls: addresses.TLSConfig | None,
        config_dir: str,
        debug: bool = False,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.address = address
        self.tls = tls
        self.config_dir = config_dir
        self.debug = debug
        self._daemon: Daemon | None = None

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
