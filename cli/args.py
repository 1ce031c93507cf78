"""argparse made to read and reject command lines as docker's (cobra and pflag) do.

- A bad flag is a usage error (exit 125) worded as pflag words it, followed by the pointer to
  the command's --help, as docker 20.10's FlagErrorFunc prints it: "unknown flag: --x",
  "unknown shorthand flag: 'x' in -x", "flag needs an argument: --name",
  'invalid argument "abc" for "-m, --memory" flag: ...'. Flags are never abbreviated.
- A wrong number of arguments is an ordinary error (exit 1) with cobra's text and the
  command's usage line: '"caisson rmi" requires at least 1 argument.' Each command states
  what it takes with `takes()`; the arguments may come before, between or after the flags.
- A bool flag made with `add_bool()` takes Go's `--flag=false` form, and a bare `--flag`
  never takes the next word as its value (`history --human IMAGE`). A plain store_true flag
  takes `--flag=true` and `--flag=false` too, as every pflag bool does.
- An unknown command is an ordinary error (exit 1): "caisson: 'x' is not a caisson command."
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

from caisson.cli.errors import CLIError, FlagError

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)'")
_IGNORED_ARGUMENT = re.compile(r"ignored explicit argument '(.*)'$")
# strconv.ParseBool's words.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class Parser(argparse.ArgumentParser):
    """Reports usage errors as docker does (exit 125, pflag's words) instead of exiting 2."""

    # The option strings of this parser's Go bool flags.
    go_bools: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # pflag knows no abbreviations (`--mem` is an unknown flag, not --memory), and a bad
        # command line raises here so it can be worded as pflag's.
        kwargs.setdefault("allow_abbrev", False)
        kwargs["exit_on_error"] = False
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", Commands)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter at every add_argument (to check the metavar), and each
        # asks shutil for the terminal's width: importing shutil costs a command ~1.5 ms.
        return self.formatter_class(prog=self.prog, width=_help_width())

    def error(self, message: str) -> NoReturn:
        # What argparse still reports through error(): words it cannot place.
        raise FlagError(message, self.prog, self.usage_if_group())

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        return self.parse_flags(list(sys.argv[1:] if args is None else args), namespace)

    def parse_flags(
        self, argv: list[str], namespace: argparse.Namespace | None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's parse_known_args, with Go's bool forms and pflag's complaints."""
        if self._subparsers is None:
            argv = self._bools_spelled_out(argv)
        try:
            return super().parse_known_args(argv, namespace)
        except argparse.ArgumentError as e:
            raise self._complaint(e, argv) from None

    def usage_if_group(self) -> str:
        """cobra adds the usage to a flag error of a command that has subcommands."""
        return self.format_help() if self._subparsers is not None else ""

    def _bools_spelled_out(self, argv: list[str]) -> list[str]:
        """Go's bool forms, for argparse: a bare Go bool flag becomes `--flag=true`; a
        store_true flag given a value (`--all=false`, `-a=true`) becomes the flag or nothing."""
        out: list[str] = []
        for i, arg in enumerate(argv):
            if arg == "--":
                return out + argv[i:]
            name, eq, value = arg.partition("=")
            action = self._option_string_actions.get(name)
            if arg in self.go_bools:
                out.append(f"{arg}=true")
            elif eq and isinstance(action, argparse._StoreTrueAction):
                try:
                    if go_bool(value):
                        out.append(name)
                except argparse.ArgumentTypeError as e:
                    message = invalid_argument(value, action.option_strings, str(e))
                    raise FlagError(message, self.prog) from None
            else:
                out.append(arg)
        return out

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        convert = self._registry_get("type", action.type, action.type)
        if not callable(convert):
            return super()._get_value(action, arg_string)
        try:
            return convert(arg_string)
        except argparse.ArgumentTypeError as e:
            reason = str(e)
        except (TypeError, ValueError):
            reason = (
                f"strconv.ParseInt: parsing {go_quote(arg_string)}: invalid syntax"
                if convert is int
                else f"invalid value {go_quote(arg_string)}"
            )
        raise FlagError(invalid_argument(arg_string, action.option_strings, reason), self.prog)

    def _complaint(self, e: argparse.ArgumentError, argv: list[str]) -> CLIError:
        names = (e.argument_name or "").split("/")
        choice = _INVALID_CHOICE.match(e.message)
        if choice:
            return self._unknown_command(choice.group(1))
        if e.message == "expected one argument":
            return FlagError(_needs_argument(names, argv), self.prog, self.usage_if_group())
        ignored = _IGNORED_ARGUMENT.match(e.message)
        if ignored:
            # A short bool flag joined to letters that are no flag: `-iZ`.
            rest = ignored.group(1)
            return FlagError(
                f"unknown shorthand flag: {go_char(rest[0])} in -{rest}",
                self.prog,
                self.usage_if_group(),
            )
        return FlagError(e.message, self.prog, self.usage_if_group())

    def _unknown_command(self, name: str) -> CLIError:
        if self.prog == "caisson":
            # docker's root command: an ordinary error, exit 1.
            return CLIError(f"caisson: '{name}' is not a caisson command.\nSee 'caisson --help'")
        # cobra's NoArgs for a command with subcommands: its usage after an empty line.
        return CLIError("\n" + self.format_help().rstrip())


@functools.cache
def _help_width() -> int:
    """What argparse's HelpFormatter takes by default: shutil.get_terminal_size()'s columns
    (COLUMNS, else the terminal of stdout, else 80), less 2."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class _Command:
    """A command not made yet: its names, what builds its flags, add_parser's arguments."""

    def __init__(
        self,
        names: list[str],
        builds: list[Callable[[argparse.ArgumentParser], None]],
        kwargs: dict[str, Any],
    ) -> None:
        self.names = names
        self.builds = builds
        self.kwargs = kwargs


class _Parsers(dict[str, Any]):
    """Name -> parser of a Commands action; a command not made yet is made on lookup."""

    def __init__(self, action: Commands) -> None:
        super().__init__()
        self._action = action

    def __getitem__(self, name: str) -> Any:
        value = super().__getitem__(name)
        return self._action.make(value) if isinstance(value, _Command) else value


class Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose parsers are made when first looked up. Every command line builds
    the tree of ~75 commands, but needs only the parser of the command it names: making all
    of them cost ~10 ms of every `caisson` start. Help listings make them all, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _Parsers(self)  # type: ignore[assignment]
        self._rank: dict[str, int] = {}  # registration order, for help listings

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        self._rank.setdefault(name, len(self._rank))
        p = super().add_parser(name, **kwargs)
        # Each command's errors point at its own --help, as docker's do.
        p.set_defaults(help_parser=p)
        return p

    def add_command(
        self, names: list[str], build: Callable[[argparse.ArgumentParser], None], **kwargs: Any
    ) -> None:
        """names[0], with names[1:] as aliases; build(parser) adds its flags and defaults
        when a command line names it. kwargs are add_parser's."""
        command = _Command(names, [build], kwargs)
        for name in names:
            dict.__setitem__(self._name_parser_map, name, command)
        self._rank.setdefault(names[0], len(self._rank))

    def amend(self, name: str, build: Callable[[argparse.ArgumentParser], None]) -> None:
        """Adds to what a registered command's parser gets, after what it had."""
        command = dict.__getitem__(self._name_parser_map, name)
        if isinstance(command, _Command):
            command.builds.append(build)
        else:
            build(command)

    def make(self, command: _Command) -> argparse.ArgumentParser:
        for name in command.names:  # add_parser refuses names already taken
            dict.__delitem__(self._name_parser_map, name)
        p = self.add_parser(command.names[0], aliases=command.names[1:], **command.kwargs)
        for build in command.builds:
            build(p)
        return p  # type: ignore[no-any-return]

    def _get_subactions(self) -> list[argparse.Action]:
        for name in self._rank:
            self._name_parser_map[name]  # noqa: B018 - made on lookup
        self._choices_actions.sort(key=lambda a: self._rank[a.dest])
        return self._choices_actions


def command(
    group: Commands,
    names: list[str],
    func: Callable[..., int],
    add_args: Callable[[argparse.ArgumentParser], None],
    help_text: str,
    **kwargs: Any,
) -> None:
    """A command of group: add_args(parser) adds its flags; func(ctx, args) runs it."""

    def build(p: argparse.ArgumentParser) -> None:
        add_args(p)
        p.set_defaults(func=func)

    # The description is also the last line of the message for a wrong argument count.
    group.add_command(names, build, help=help_text, description=help_text, **kwargs)


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote), close enough for what a user types."""
    return json.dumps(text, ensure_ascii=False)


def go_char(char: str) -> str:
    """Go's %q of a byte: 'x'."""
    return f"'{char}'" if char not in "'\\" else f"'\\{char}'"


def flag_name(option_strings: Sequence[str]) -> str:
    """How pflag names a flag in its errors: "-m, --memory" or "--memory"."""
    short = next((o for o in option_strings if len(o) == 2 and o[1] != "-"), "")
    long = next((o for o in option_strings if o.startswith("--")), "")
    if short and long:
        return f"{short}, {long}"
    return long or short


def invalid_argument(value: str, option_strings: Sequence[str], reason: str) -> str:
    """pflag's message for a value its flag's Set() refused."""
    name = go_quote(flag_name(option_strings))
    return f"invalid argument {go_quote(value)} for {name} flag: {reason}"


def unknown_flag(word: str) -> str:
    """pflag's words for a flag it does not know, as the user typed it."""
    if word.startswith("--"):
        name = word[2:].partition("=")[0]
        if not name or name[0] in "-=":
            return f"bad flag syntax: {word}"
        return f"unknown flag: --{name}"
    return f"unknown shorthand flag: {go_char(word[1])} in {word}"


def _needs_argument(names: list[str], argv: list[str]) -> str:
    """pflag's words for a flag given without its value: the flag as typed, its last use."""
    longs = [n for n in names if n.startswith("--")]
    shorts = [n[1] for n in names if len(n) == 2 and n[1] != "-"]
    words = argv[: argv.index("--")] if "--" in argv else argv
    for word in reversed(words):
        if word in longs:
            return f"flag needs an argument: {word}"
        # A short flag that needs a value and has none ends its word: -e, -ie.
        if word[:1] == "-" and word[1:2] != "-" and word[-1:] in shorts:
            return f"flag needs an argument: {go_char(word[-1])} in -{word[-1]}"
    return f"flag needs an argument: {longs[0] if longs else names[0]}"


def go_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


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


class Arity(NamedTuple):
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
    usage = parser.usage_if_group() if isinstance(parser, Parser) else ""
    flags = [x for x in extra if x.startswith("-") and x != "-"]
    if flags:
        raise FlagError(unknown_flag(flags[0]), parser.prog, usage)
    arity: Arity | None = getattr(args, "arity", None)
    if arity is None:
        if extra:
            # cobra's NoArgs for a command with subcommands: its usage after an empty line.
            raise CLIError("\n" + parser.format_help().rstrip())
        return
    given = [*(getattr(args, "operands", None) or []), *extra]
    if len(given) < arity.least or (arity.most is not None and len(given) > arity.most):
        raise CLIError(arity.complaint(parser.prog, parser.description or ""))
    for i, name in enumerate(arity.names):
        if arity.most is None and i == len(arity.names) - 1:
            setattr(args, name, given[i:])
        elif i < len(given):
            setattr(args, name, given[i])
