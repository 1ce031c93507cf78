"""`top`: docker's ContainerTop. The host's `ps` runs with the user's options and only the
rows of the container's processes are kept (their host pids come from the executor: the
processes of the container's cgroup). As docker does, `-q PIDS` is added so that ps reads
only those, and dropped again when the options refuse it (forest listings)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from caisson import errors

DEFAULT_ARGS = "-ef"
_ASSIGNED_PID = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")


@dataclass
class Top:
    titles: list[str]
    processes: list[list[str]] = field(default_factory=list)


def ps_args(args: Sequence[str]) -> str:
    """The options as one string, as docker's CLI sends them (joined by spaces)."""
    return " ".join(args) or DEFAULT_ARGS


def validate(args: str) -> None:
    """docker's validatePSArgs: a column may not be renamed to PID (the rows are matched on
    the PID column)."""
    for key, value in _ASSIGNED_PID.findall(args):
        if key != "pid":
            raise errors.InvalidArgument(f'specifying "{key}={value}" is not allowed')


def _fields(line: str) -> list[str]:
    # ASCII whitespace only, as docker: a command may hold other spaces.
    return [f for f in _ASCII_SPACE.split(line) if f]


def parse(output: str, pids: Sequence[int]) -> Top:
    """docker's parsePSOutput: the header's titles; each row of one of `pids` with its extra
    fields joined into the last column; a thread row ("-" as PID, with `m`) follows its
    process."""
    lines = output.split("\n")
    top = Top(titles=_fields(lines[0]))
    if "PID" not in top.titles:
        raise errors.Internal("Couldn't find PID field in ps output")
    pid_index = top.titles.index("PID")
    wanted = set(pids)
    last = len(top.titles) - 1
    previous_kept = False
    for line in lines[1:]:
        if not line:
            continue
        fields = _fields(line)
        if len(fields) <= pid_index:
            continue
        if fields[pid_index] == "-":
            if previous_kept:
                top.processes.append([*fields[:last], " ".join(fields[last:])])
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise errors.Internal(f"Unexpected pid '{fields[pid_index]}': invalid syntax") from None
        previous_kept = pid in wanted
        if previous_kept:
            top.processes.append([*fields[:last], " ".join(fields[last:])])
    return top


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)


def top(args: str, pids: Sequence[int], run: Runner = _run) -> Top:
    """Runs ps with `args` (docker splits them on single spaces) and keeps the rows of
    `pids`."""
    validate(args)
    argv = ["ps", *args.split(" ")]
    result = run([*argv, "-q", ",".join(str(p) for p in pids)]) if pids else None
    if result is None or result.returncode != 0:
        result = run(argv)
    if result.returncode != 0:
        first = (result.stderr or "").split("\n", 1)[0]
        raise errors.Internal(f"ps: {first or f'exit status {result.returncode}'}")
    return parse(result.stdout, pids)
