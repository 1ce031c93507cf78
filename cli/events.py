"""`caisson events`: the daemon's job and object events, one line each, like docker's."""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from caisson.cli import args as cli_args
from caisson.cli import lazy, output, template
from caisson.cli.context import Context

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import daemon_pb2
else:
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")

# Go's time.ParseDuration: a sequence of decimal numbers with units, e.g. 10m, 1h30m, 1.5h.
_DURATION_PART = r"(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)"
_DURATION = re.compile(rf"^[-+]?(?:{_DURATION_PART})+$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string."""
    sign = -1.0 if text.startswith("-") else 1.0
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text):
        total += float(value) * _UNIT_SECONDS[unit]
    return sign * total


def parse_time(text: str, now: float | None = None) -> float:
    """Unix seconds from docker's --since/--until forms: a duration back from now (10m, 1h),
    unix seconds (1700000000, 1700000000.5), or an RFC3339 date/time (local without a zone)."""
    text = text.strip()
    now = time.time() if now is None else now
    if text != "0" and _DURATION.match(text):
        return now - parse_duration(text)
    if _NUMBER.match(text):
        return float(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"failed to parse value as time or duration: {text!r}") from None
    if when.tzinfo is None:
        when = when.astimezone()  # a time without a zone is local, as in docker
    return when.timestamp()


def _time_arg(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _filter_arg(text: str) -> str:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value:
        raise argparse.ArgumentTypeError(f"bad format of filter (expected name=value): {text!r}")
    return f"{key.strip()}={value}"


def event_fields(event: daemon_pb2.Event) -> dict[str, Any]:
    """docker's events.Message shape, for --format: the legacy status/id/from of container
    and image events first, then Type, Action, Actor, scope and the times. Caisson's job
    events carry their JobID too."""
    nanos = event.time.seconds * 1_000_000_000 + event.time.nanos
    doc: dict[str, Any] = {}
    if event.type in ("container", "image"):
        doc["status"] = event.action
        doc["id"] = event.id
        if event.type == "container" and "image" in event.attributes:
            doc["from"] = event.attributes["image"]
    doc |= {
        "Type": event.type,
        "Action": event.action,
        "Actor": {"ID": event.id, "Attributes": dict(sorted(event.attributes.items()))},
        "scope": "local",
    }
    if event.type == "job":
        doc["JobID"] = event.job_id
    doc |= {"time": event.time.seconds, "timeNano": nanos}
    return doc


def render_event(event: daemon_pb2.Event) -> str:
    """`2026-11-27T21:30:00.000000000Z image pull ID (k=v, k2=v2)`"""
    line = ""
    if event.HasField("time"):
        when = datetime.fromtimestamp(event.time.seconds, UTC)
        line = output.rfc3339_nano(when, event.time.nanos) + " "
    line += f"{event.type} {event.action} {event.id}"
    if event.attributes:
        attrs = ", ".join(f"{k}={event.attributes[k]}" for k in sorted(event.attributes))
        line += f" ({attrs})"
    return line


def events(ctx: Context, args: argparse.Namespace) -> int:
    req = daemon_pb2.EventsRequest(until=args.until or 0.0, filters=args.filter)
    if args.since is not None:  # `--since 0` is the epoch: everything in the log
        req.since = args.since
    tmpl = template.Template(args.format) if args.format and args.format != "json" else None
    call = ctx.daemon.system.Events(req)
    try:
        with ctx.daemon.calls():
            for event in call:
                if args.format == "json":
                    ctx.out(output.json_line(event_fields(event)))
                elif tmpl is not None:
                    ctx.out(tmpl.execute(event_fields(event)))
                else:
                    ctx.out(render_event(event))
                ctx.stdout.flush()
    except KeyboardInterrupt:
        call.cancel()
        raise
    return 0


def register(commands: cli_args.Commands) -> None:
    text = "Get real-time events from the daemon"
    cli_args.command(commands, ["events"], events, _events_args, text)


def _events_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--since", type=_time_arg, default=None, metavar="TIME", help="Show events since"
    )
    p.add_argument("--until", type=_time_arg, default=None, metavar="TIME", help="Stream until")
    p.add_argument(
        "-f", "--filter", type=_filter_arg, action="append", default=[], metavar="KEY=VALUE"
    )
    p.add_argument("--format", default="", help="'json' or a Go-like template")
    cli_args.takes(p, "[OPTIONS]")
