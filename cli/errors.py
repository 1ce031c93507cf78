"""What can end a command, and with which exit code (Docker's: 1 error, 125 usage, 130 ^C)."""

from __future__ import annotations

EXIT_ERROR = 1
EXIT_USAGE = 125
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """One line for stderr and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotFound(CLIError):
    """The daemon's NOT_FOUND; some commands word it as docker's client does."""


class UsageError(CLIError):
    """Flags that parsed but cannot go together or make no sense, found by the command itself:
    docker's reportError() ("docker: X.", then the pointer to --help). `help_prog` names the
    command whose --help to suggest."""

    def __init__(self, message: str, help_prog: str = "caisson") -> None:
        super().__init__(message, EXIT_USAGE)
        self.help_prog = help_prog

    def render(self) -> str:
        message = str(self).rstrip(".")
        return f"caisson: {message}.\nSee '{self.help_prog} --help'."


class FlagError(UsageError):
    """A command line the flag parser rejects (unknown flag, missing or bad value), worded as
    pflag does and printed as cobra's FlagErrorFunc in docker 20.10: the message as it is, no
    program prefix, no added period; a command that has subcommands adds its usage."""

    def __init__(self, message: str, help_prog: str = "caisson", usage: str = "") -> None:
        super().__init__(message, help_prog)
        self.usage = usage

    def render(self) -> str:
        usage = f"\n\n{self.usage.rstrip()}" if self.usage else ""
        return f"{self}\nSee '{self.help_prog} --help'.{usage}"
