"""argparse made to read and reject command lines as docker's (cobra and pflag) do.

- A bad flag is a usage error: exit 125, pointing at the command's --help.
- A wrong number of arguments is an ordinary error (exit 1) with cobra's text and the
  command's usage line: '"caisson rmi" requires at least 1 argument.' Each command states
  what it takes with `takes()`; the arguments may come before, between or after the flags.
- A bool flag made with `add_bool()` takes Go's `--flag=false` form, and a bare `--flag`
  never takes the next word as its value (`history --human IMAGE`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from caisson.cli.errors import CLIError, UsageError

_INVALID_CHOICE = re.compile(r"argument [A-Za-z_]+: invalid choice: '([^']*)'")
# strconv.ParseBool's words.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class Parser(argparse.ArgumentParser):
    """Reports usage errors as docker does (exit 125) instead of exiting 2."""

    # The option strings of this parser's Go bool flags.
    go_bools: frozenset[str] = frozenset()

    def error(self, message: str) -> NoReturn:
        m = _INVALID_CHOICE.match(message)
        if m:
            message = f"'{m.group(1)}' is not a {self.prog} command"
        raise UsageError(message, self.prog)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if args is not None and self.go_bools:
            args = _explicit_bools(list(args), self.go_bools)
        return super().parse_known_args(args, namespace)


def go_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f'invalid argument "{text}": want true or false')


def add_bool(p: argparse.ArgumentParser, *names: str, default: bool, help: str) -> None:
    """A Go bool flag: `--flag` sets it, `--flag=false` clears it."""
    if not isinstance(p, Parser):
        raise TypeError("a Go bool flag needs a caisson.cli.args.Parser")
    # nargs="?" lets argparse take `--flag=VALUE`; the parser rewrites every bare `--flag`
    # to `--flag=true` first, so the flag never takes the next word.
    p.add_argument(
        *names,
        nargs="?",
        const=True,
        type=go_bool,
        default=default,
        metavar="true|false",
        help=f"{help} (default {'true' if default else 'false'})",
    )
    p.go_bools = p.go_bools | frozenset(names)


def _explicit_bools(argv: list[str], names: frozenset[str]) -> list[str]:
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in names:
            argv[i] = f"{arg}=true"
    return argv


@dataclass(frozen=True)
class Arity:
    """The arguments a command takes, as its cobra Args check would count them."""

    names: tuple[str, ...]  # the attributes they fill, in order
    least: int
    most: int | None  # None: no limit, and the last name takes a list
    use: str  # what follows the command in its usage line: "[OPTIONS] IMAGE [IMAGE...]"

    def complaint(self, prog: str, short: str) -> str:
        """cobra's message (docker/cli's RequiresMinArgs, ExactArgs, NoArgs and the rest)."""
        if self.most == 0:
            what = "accepts no arguments"
        elif self.most is None:
            what = f"requires at least {_arguments(self.least)}"
        elif self.least == self.most:
            what = f"requires exactly {_arguments(self.most)}"
        elif self.least == 0:
            what = f"requires at most {_arguments(self.most)}"
        else:
            what = f"requires at least {self.least} and at most {_arguments(self.most)}"
        return f"\"{prog}\" {what}.\nSee '{prog} --help'.\n\nUsage:  {prog} {self.use}\n\n{short}"


def _arguments(n: int) -> str:
    return f"{n} argument" if n == 1 else f"{n} arguments"


def takes(
    p: argparse.ArgumentParser,
    use: str,
    *names: str,
    least: int = 0,
    most: int | None = 0,
) -> None:
    """Declares the command's arguments; `use` is also its usage line in --help."""
    arity = Arity(names, least, most, use)
    p.usage = f"{p.prog} {use}"
    if names:
        # Taken as a list and counted by bind(), so a wrong count gets cobra's message.
        p.add_argument("operands", nargs="*", help=argparse.SUPPRESS)
    defaults = {n: [] if most is None else None for n in names if p.get_default(n) is None}
    p.set_defaults(arity=arity, **defaults)


def bind(args: argparse.Namespace, extra: list[str]) -> None:
    """Checks what parse_known_args left over and the argument count, then fills the names
    the command declared. Words argparse left over are arguments that came after a flag."""
    parser: argparse.ArgumentParser = args.help_parser
    flags = [x for x in extra if x.startswith("-") and x != "-"]
    arity: Arity | None = getattr(args, "arity", None)
    if flags or (extra and arity is None):
        raise UsageError(f"unrecognized arguments: {' '.join(flags or extra)}", parser.prog)
    if arity is None:
        return
    given = [*(getattr(args, "operands", None) or []), *extra]
    if len(given) < arity.least or (arity.most is not None and len(given) > arity.most):
        raise CLIError(arity.complaint(parser.prog, parser.description or ""))
    for i, name in enumerate(arity.names):
        if arity.most is None and i == len(arity.names) - 1:
            setattr(args, name, given[i:])
        elif i < len(given):
            setattr(args, name, given[i])
