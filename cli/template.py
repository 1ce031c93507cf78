"""A small subset of Go's text/template for `--format`, as Docker users write them.

Supported: text, `{{.}}`, `{{.Field.Sub}}`, functions `json`, `join`, `index`, `len`,
`upper`, `lower`, `title`, `truncate`, `println`, pipes (`{{.Config | json}}`), string and
number literals, `{{-`/`-}}` trimming, and Docker's `table` prefix and `\\t`/`\\n` escapes.
Anything else (if, range, variables) is a parse error rather than a silent misprint.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from caisson.cli import output


class TemplateError(Exception):
    pass


NO_VALUE = "<no value>"


def go_str(value: Any) -> str:
    """How Go's fmt prints a decoded JSON value with %v."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, Mapping):
        items = " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value))
        return f"map[{items}]"
    if isinstance(value, Sequence):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    return str(value)


def _json(value: Any) -> str:
    return output.json_line(value)


def _join(value: Any, sep: Any) -> str:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TemplateError("join: first argument must be a list")
    return str(sep).join(go_str(v) for v in value)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, Sequence) and isinstance(key, int):
            value = value[key] if -len(value) <= key < len(value) else None
        else:
            raise TemplateError(f"index: cannot index {go_str(value)!r} with {key!r}")
    return value


def _truncate(value: Any, n: Any) -> str:
    text = go_str(value)
    return text[: int(n)]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": _join,
    "index": _index,
    "len": lambda v: len(v) if v is not None else 0,
    "upper": lambda v: go_str(v).upper(),
    "lower": lambda v: go_str(v).lower(),
    "title": lambda v: go_str(v).title(),
    "truncate": _truncate,
    "println": lambda *v: " ".join(go_str(x) for x in v) + "\n",
}

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_FIELD = re.compile(r"^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$")
_NUMBER = re.compile(r"^-?\d+$")


class _Arg(NamedTuple):
    kind: str  # "field" or "literal"
    value: Any


class _Command(NamedTuple):
    func: str  # "" for a bare argument
    args: tuple[_Arg, ...]


def _parse_arg(token: str) -> _Arg:
    if _FIELD.match(token):
        return _Arg("field", [p for p in token.split(".") if p])
    if _NUMBER.match(token):
        return _Arg("literal", int(token))
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return _Arg("literal", token[1:-1])
    raise TemplateError(f"unsupported template argument {token!r}")


def _parse_command(text: str) -> _Command:
    try:
        tokens = shlex.split(text, posix=False)
    except ValueError as e:
        raise TemplateError(f"bad template action {{{{{text}}}}}: {e}") from None
    if not tokens:
        raise TemplateError("empty template action")
    head, rest = tokens[0], tokens[1:]
    if head in FUNCTIONS:
        return _Command(head, tuple(_parse_arg(t) for t in rest))
    if rest:
        raise TemplateError(f"unsupported template action {{{{{text}}}}}")
    if head.isidentifier():
        raise TemplateError(f'function "{head}" not defined')
    return _Command("", (_parse_arg(head),))


def _resolve(data: Any, path: list[str]) -> Any:
    if isinstance(data, Headers):
        return data[path[-1]] if path else ""
    value = data
    for part in path:
        if isinstance(value, Mapping):
            try:
                value = value[part]
            except KeyError:
                return None
        else:
            raise TemplateError(f"can't evaluate field {part} in {go_str(value)!r}")
    return value


class Template:
    """A parsed `--format` value; `table` marks Docker's aligned-table mode."""

    def __init__(self, text: str) -> None:
        text = text.replace("\\t", "\t").replace("\\n", "\n")
        self.table = text.startswith("table")
        if self.table:
            text = text[len("table") :].lstrip(" ")
        self._parts: list[str | list[_Command]] = []
        pos = 0
        for m in _ACTION.finditer(text):
            literal = text[pos : m.start()]
            if m.group(1):
                literal = literal.rstrip()
            self._parts.append(literal)
            pipeline = [_parse_command(c.strip()) for c in m.group(2).split("|")]
            self._parts.append(pipeline)
            pos = m.end()
            if m.group(3):
                while pos < len(text) and text[pos].isspace():
                    pos += 1
        tail = text[pos:]
        if "{{" in tail or "}}" in tail:
            raise TemplateError("unclosed action")
        self._parts.append(tail)

    def execute(self, data: Any) -> str:
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value: Any = None
            for i, cmd in enumerate(part):
                args = [_resolve(data, a.value) if a.kind == "field" else a.value for a in cmd.args]
                if i > 0:
                    args.append(value)
                if cmd.func:
                    try:
                        value = FUNCTIONS[cmd.func](*args)
                    except TypeError:
                        raise TemplateError(f"wrong arguments for {cmd.func}") from None
                elif len(args) == 1:
                    value = args[0]
                else:
                    raise TemplateError("only a function can take piped input")
            out.append(go_str(value))
        return "".join(out)


class Headers(dict[str, str]):
    """The data a `table` format's header row is rendered from: known names, else UPPER."""

    def __missing__(self, key: str) -> str:
        return key.upper()


def render(fmt: str, items: list[Any], headers: Mapping[str, str] | None = None) -> str:
    """Renders items one per line; with `table`, a header row and tabwriter alignment."""
    tmpl = Template(fmt)
    lines = [tmpl.execute(item) for item in items]
    if not tmpl.table:
        return "".join(line + "\n" for line in lines)
    header = tmpl.execute(Headers(headers or {}))
    return output.table([line.split("\t") for line in [header, *lines]])
