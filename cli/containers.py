"""Container commands other than run/create/start/exec/cp: ps, inspect, logs, wait, stop,
restart, kill, rm, pause, unpause, rename, top, stats, attach, container prune, and the
`container` command group. Output, messages and exit codes follow docker 20.10's CLI.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from caisson import errors, reference
from caisson.cli import args as cli_args
from caisson.cli import attach as stdio
from caisson.cli import channel as rpc
from caisson.cli import events, images, lazy, output, port, runflags, template
from caisson.cli.context import Context
from caisson.cli.errors import CLIError, NotFound

if TYPE_CHECKING:
    from google.protobuf import timestamp_pb2

    from caisson_api.daemon.v1 import containers_pb2 as pb
    from caisson_api.daemon.v1 import (
        containers_pb2_grpc,
        daemon_pb2,
        networks_pb2,
    )
else:
    timestamp_pb2 = lazy.module("google.protobuf.timestamp_pb2")
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")
    daemon_pb2 = lazy.module("caisson_api.daemon.v1.daemon_pb2")
    networks_pb2 = lazy.module("caisson_api.daemon.v1.networks_pb2")

Command = Callable[[Context, argparse.Namespace], int]
# docker's parallelOperation runs multi-container commands at once (stop may wait seconds).
PARALLEL = 8


def stub(ctx: Context) -> containers_pb2_grpc.ContainersStub:
    return ctx.daemon.containers


def no_such_container(name: str) -> CLIError:
    """How docker 20.10's client words a 404 for inspect, logs, rm, attach and exec."""
    return CLIError(f"Error: No such container: {name}")


def filter_arg(text: str) -> str:
    """docker's FilterOpt: KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError("bad format of filter (expected name=value)")
    return f"{key.strip().lower()}={value}"


def _report(ctx: Context, failures: list[str]) -> int:
    """docker prints a multi-target command's errors after its output, one per line."""
    for failure in failures:
        ctx.err(failure)
    return 1 if failures else 0


def _each(ctx: Context, names: list[str], op: Callable[[str], None]) -> list[CLIError | None]:
    """Runs op on every name at once; the outcomes in the names' order."""

    def one(name: str) -> CLIError | None:
        try:
            with ctx.daemon.calls():
                op(name)
        except CLIError as e:
            return e
        return None

    from concurrent.futures import ThreadPoolExecutor  # ~2.5 ms that only these commands need

    with ThreadPoolExecutor(max_workers=min(PARALLEL, max(1, len(names)))) as pool:
        return list(pool.map(one, names))


def _names_or_errors(ctx: Context, names: list[str], op: Callable[[str], None]) -> int:
    """stop, kill, pause...: each name printed when done, the failures after them."""
    failures = []
    for name, error in zip(names, _each(ctx, names, op), strict=True):
        if error is None:
            ctx.out(name)
        else:
            failures.append(str(error))
    return _report(ctx, failures)


# --- ps ------------------------------------------------------------------------------------

CONTAINER_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
}
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GO_ESCAPES |= {"\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters kept, the rest escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def image_column(image: str, image_id: str, trunc: bool) -> str:
    """docker's ContainerContext.Image: a short id when the image was given by id, else the
    familiar name (with its tag, without a digest) when truncating."""
    if not image:
        return "<no image>"
    if not trunc:
        return image
    if output.short_id(image_id) == output.short_id(image):
        return output.short_id(image_id)
    try:
        parsed = reference.parse(image, default_tag=False)
    except errors.InvalidArgument:
        return image
    return f"{parsed.familiar_name}:{parsed.tag}" if parsed.tag else parsed.familiar_name


def _timestamp(ts: timestamp_pb2.Timestamp) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def container_fields(
    c: pb.ContainerSummary, trunc: bool, now: datetime | None = None
) -> dict[str, str]:
    """A container as docker's ContainerContext: the keys `--format` and `json` see."""
    names = [n.removeprefix("/") for n in c.names]
    if trunc:
        # Names holding a "/" are legacy link names; docker shows the container's own.
        names = [n for n in names if "/" not in n][:1] or names
    created = _timestamp(c.created)
    size = output.image_size(c.size_rw)
    if c.size_root_fs > 0:
        size += f" (virtual {output.image_size(c.size_root_fs)})"
    mounts = [output.ellipsis(m, 15) if trunc else m for m in c.mounts]
    return {
        "Command": go_quote(output.ellipsis(c.command, 20) if trunc else c.command),
        "CreatedAt": output.go_time(created) if created else "",
        "ID": output.short_id(c.id, trunc),
        "Image": image_column(c.image, c.image_id, trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "LocalVolumes": str(sum(1 for m in c.mounts if not m.startswith("/"))),
        "Mounts": ",".join(mounts),
        "Names": ",".join(names),
        "Networks": ",".join(sorted(c.networks)),
        "Ports": ", ".join(c.ports),
        "RunningFor": output.since(created, now) if created else "",
        "Size": size,
        "State": c.state,
        "Status": c.status,
    }


def render_containers(
    items: list[pb.ContainerSummary],
    *,
    quiet: bool = False,
    trunc: bool = True,
    size: bool = False,
    fmt: str = "",
    now: datetime | None = None,
) -> str:
    rows = [container_fields(c, trunc, now) for c in items]
    if fmt in ("", "table") and quiet:
        return "".join(r["ID"] + "\n" for r in rows)
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    if fmt and fmt != "table":
        return template.render(fmt, rows, CONTAINER_HEADERS)
    columns = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    columns += ["Size"] if size else []
    table = [[CONTAINER_HEADERS[c] for c in columns]]
    table += [[r[c] for c in columns] for r in rows]
    return output.table(table)


def ps(ctx: Context, args: argparse.Namespace) -> int:
    limit = 1 if args.latest and args.last in (None, -1) else (args.last or 0)
    fmt = args.format or ""
    if fmt not in ("", "json", "table"):
        template.Template(fmt)  # a bad template fails before the daemon is asked
    # docker asks for sizes by itself when the template shows them.
    size = args.size or (not args.quiet and ".Size" in fmt)
    req = pb.ListContainersRequest(
        all=args.all, filters=args.filter, limit=max(limit, 0), size=size
    )
    with ctx.daemon.calls():
        resp = stub(ctx).List(req)
    ctx.stdout.write(
        render_containers(
            list(resp.containers), quiet=args.quiet, trunc=not args.no_trunc, size=size, fmt=fmt
        )
    )
    return 0


# --- inspect -------------------------------------------------------------------------------


def inspect_documents(ctx: Context, names: list[str], size: bool = False) -> list[dict[str, Any]]:
    """Inspect documents of the named containers; NotFound words as docker's client."""
    docs = []
    for name in names:
        try:
            with ctx.daemon.calls():
                resp = stub(ctx).Inspect(pb.InspectContainersRequest(containers=[name], size=size))
        except NotFound:
            raise no_such_container(name) from None
        for doc in resp.documents:
            try:
                docs.append(json.loads(doc))
            except ValueError:
                raise CLIError(f"daemon sent an invalid document for {name}") from None
    return docs


def inspect_each(
    ctx: Context,
    names: list[str],
    fmt: str,
    documents_of: Callable[[Context, list[str]], list[Any]],
) -> int:
    """docker's inspect of volumes and networks: the documents found, then one error line
    per name not found (exit 1)."""
    if fmt and fmt != "json":
        template.Template(fmt)
    documents: list[Any] = []
    failures: list[str] = []
    for name in names:
        try:
            documents += documents_of(ctx, [name])
        except CLIError as e:
            failures.append(str(e))
    print_documents(ctx, documents, fmt)
    for failure in failures:
        ctx.err(failure)
    return 1 if failures else 0


def print_documents(ctx: Context, documents: list[Any], fmt: str) -> None:
    """docker's inspect output: a JSON array, or the template once per object."""
    if fmt and fmt != "json":
        tmpl = template.Template(fmt)
        for doc in documents:
            ctx.out(tmpl.execute(doc))
        if not documents:
            ctx.out()
    else:
        ctx.out(output.json_pretty(documents))


def inspect(ctx: Context, args: argparse.Namespace) -> int:
    if args.format and args.format != "json":
        template.Template(args.format)
    documents: list[Any] = []
    failures: list[str] = []
    for name in args.containers:
        try:
            documents += inspect_documents(ctx, [name], size=args.size)
        except CLIError as e:
            failures.append(str(e))
    print_documents(ctx, documents, args.format)
    return _report(ctx, failures)


INSPECT_TYPES = ("container", "image", "network", "volume")


def inspect_any(ctx: Context, args: argparse.Namespace) -> int:
    """`caisson inspect`: containers first, then images and volumes, as docker's does. Like
    docker's isErrSkippable, "not found" and "not supported" (a daemon without that
    service) move on to the next kind."""
    kind = args.type or ""
    if kind and kind not in INSPECT_TYPES:
        raise CLIError(f'"{kind}" is not a valid value for --type')
    if args.format and args.format != "json":
        template.Template(args.format)
    volumes = ctx.daemon.volumes

    def find(what: str, name: str) -> list[str]:
        if what == "container":
            req = pb.InspectContainersRequest(containers=[name], size=args.size)
            return list(stub(ctx).Inspect(req).documents)
        if what == "image":
            req_image = daemon_pb2.InspectImageRequest(references=[name])
            return list(ctx.daemon.images.Inspect(req_image).documents)
        if what == "network":
            nreq = networks_pb2.InspectNetworksRequest(networks=[name])
            return list(ctx.daemon.networks.Inspect(nreq).documents)
        found = volumes.Inspect(pb.InspectVolumesRequest(names=[name])).volumes
        return [json.dumps(volume_document(v)) for v in found]

    skippable = (rpc.StatusCode.NOT_FOUND, rpc.StatusCode.UNIMPLEMENTED)
    documents: list[Any] = []
    failures: list[str] = []
    for name in args.references:
        found: list[str] | None = None
        for what in [kind] if kind else list(INSPECT_TYPES):
            try:
                found = find(what, name)
                break
            except rpc.RpcError as e:
                if e.code() in skippable:
                    continue
                failures.append(str(ctx.daemon.error(e)))
                found = []
                break
        if found is None:
            failures.append(f"Error: No such {kind or 'object'}: {name}")
            continue
        try:
            documents += [json.loads(doc) for doc in found]
        except ValueError:
            failures.append(f"daemon sent an invalid document for {name}")
    print_documents(ctx, documents, args.format)
    return _report(ctx, failures)


def volume_document(v: pb.Volume) -> dict[str, Any]:
    """docker's volume inspect object (types.Volume), keys in its order."""
    doc: dict[str, Any] = {}
    if v.HasField("created"):
        doc["CreatedAt"] = output.rfc3339(v.created.ToDatetime(tzinfo=UTC))
    doc |= {
        "Driver": v.driver,
        "Labels": dict(sorted(v.labels.items())),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": dict(sorted(v.options.items())),
        "Scope": v.scope,
    }
    return doc


# --- logs ----------------------------------------------------------------------------------


_EXACT_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z")
_EXACT_UNIX = re.compile(r"(\d+)(?:\.(\d{1,9}))?")


def _log_time(text: str, which: str) -> timestamp_pb2.Timestamp:
    """A --since/--until time. One copied from `logs -t` (or a unix time with nanoseconds)
    is taken to the nanosecond: a float of seconds cannot hold it, and a time off by a few
    hundred ns would leave out the very entry it names."""
    ts = timestamp_pb2.Timestamp()
    exact = _EXACT_RFC3339.fullmatch(text)
    unix = _EXACT_UNIX.fullmatch(text)
    if exact:
        seconds = calendar.timegm(time.strptime(exact.group(1), "%Y-%m-%dT%H:%M:%S"))
        ts.FromNanoseconds(seconds * 10**9 + int((exact.group(2) or "").ljust(9, "0")))
        return ts
    if unix:
        ts.FromNanoseconds(int(unix.group(1)) * 10**9 + int((unix.group(2) or "").ljust(9, "0")))
        return ts
    try:
        seconds_f = events.parse_time(text)
    except ValueError as e:
        raise CLIError(f'invalid value for "{which}": {e}') from None
    ts.FromNanoseconds(int(round(seconds_f * 1e9)))
    return ts


def log_timestamp(ts: timestamp_pb2.Timestamp) -> str:
    """docker's RFC3339NanoFixed of the log entry's time, in UTC as its json-file keeps it."""
    when = datetime.fromtimestamp(ts.seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts.nanos:09d}Z"


def tail_lines(text: str) -> int:
    """--tail: "all" or a count; docker's daemon reads anything else as all."""
    try:
        n = int(text)
    except ValueError:
        return -1
    return n if n >= 0 else -1


def logs(ctx: Context, args: argparse.Namespace) -> int:
    req = pb.LogsRequest(
        container=args.container,
        follow=args.follow,
        tail=tail_lines(args.tail),
        stdout=True,
        stderr=True,
    )
    if args.since:
        req.since.CopyFrom(_log_time(args.since, "since"))
    if args.until:
        req.until.CopyFrom(_log_time(args.until, "until"))
    out, err = stdio.BinaryWriter(ctx.stdout), stdio.BinaryWriter(ctx.stderr)
    call = stub(ctx).Logs(req)
    try:
        with ctx.daemon.calls():
            for chunk in call:
                data = chunk.data
                if args.timestamps:
                    data = log_timestamp(chunk.time).encode() + b" " + data
                (err if chunk.stream == pb.STREAM_STDERR else out).write(data)
    except NotFound:
        raise no_such_container(args.container) from None
    except KeyboardInterrupt:
        call.cancel()
        raise
    return 0


# --- wait, stop, restart, kill, rm, pause, unpause, rename ---------------------------------


def wait(ctx: Context, args: argparse.Namespace) -> int:
    failures = []
    for name in args.containers:
        try:
            with ctx.daemon.calls():
                resp = stub(ctx).Wait(pb.WaitContainerRequest(container=name))
        except CLIError as e:
            failures.append(str(e))
            continue
        ctx.out(str(resp.exit_code))
        ctx.stdout.flush()
    return _report(ctx, failures)


def _stop_request(name: str, timeout: int | None) -> pb.StopContainerRequest:
    req = pb.StopContainerRequest(container=name)
    if timeout is not None:
        req.timeout = timeout
    return req


def stop(ctx: Context, args: argparse.Namespace) -> int:
    return _names_or_errors(
        ctx, args.containers, lambda n: stub(ctx).Stop(_stop_request(n, args.time))
    )


def restart(ctx: Context, args: argparse.Namespace) -> int:
    return _names_or_errors(
        ctx, args.containers, lambda n: stub(ctx).Restart(_stop_request(n, args.time))
    )


def kill(ctx: Context, args: argparse.Namespace) -> int:
    return _names_or_errors(
        ctx,
        args.containers,
        lambda n: stub(ctx).Kill(pb.KillContainerRequest(container=n, signal=args.signal)),
    )


def pause(ctx: Context, args: argparse.Namespace) -> int:
    return _names_or_errors(
        ctx, args.containers, lambda n: stub(ctx).Pause(pb.ContainerRef(container=n))
    )


def unpause(ctx: Context, args: argparse.Namespace) -> int:
    return _names_or_errors(
        ctx, args.containers, lambda n: stub(ctx).Unpause(pb.ContainerRef(container=n))
    )


def rm(ctx: Context, args: argparse.Namespace) -> int:
    def remove(name: str) -> None:
        name = name.strip("/")
        if not name:
            raise CLIError("Container name cannot be empty")
        stub(ctx).Remove(
            pb.RemoveContainerRequest(container=name, force=args.force, volumes=args.volumes)
        )

    failures = []
    for name, error in zip(args.containers, _each(ctx, args.containers, remove), strict=True):
        if error is None:
            ctx.out(name)
        elif isinstance(error, NotFound):
            if args.force:
                ctx.err(str(no_such_container(name)))  # reported, but no failure with -f
                continue
            failures.append(str(no_such_container(name)))
        else:
            failures.append(str(error))
    return _report(ctx, failures)


def rename(ctx: Context, args: argparse.Namespace) -> int:
    old, new = args.old.strip(), args.new.strip()
    if not old or not new:
        raise CLIError("Error: Neither old nor new names may be empty")
    try:
        with ctx.daemon.calls():
            stub(ctx).Rename(pb.RenameContainerRequest(container=old, name=new))
    except CLIError as e:
        ctx.err(str(e))
        raise CLIError(f"Error: failed to rename container named {old}") from None
    return 0


# --- top -----------------------------------------------------------------------------------


def tabwrite(rows: list[list[str]], min_width: int, padding: int) -> str:
    """Go's text/tabwriter with ' ' padding: every cell but a line's last is padded."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            if i >= len(widths):
                widths.append(min_width)
            widths[i] = max(widths[i], len(cell) + padding)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "".join(line + "\n" for line in lines)


def top(ctx: Context, args: argparse.Namespace) -> int:
    req = pb.TopRequest(container=args.container, ps_args=args.ps_args)
    with ctx.daemon.calls():
        resp = stub(ctx).Top(req)
    rows = [list(resp.titles), *[list(p.values) for p in resp.processes]]
    ctx.stdout.write(tabwrite(rows, 20, 3))
    return 0


# --- stats ---------------------------------------------------------------------------------

STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}"
    "\t{{.BlockIO}}\t{{.PIDs}}"
)
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
# docker redraws `stats` by clearing the screen and homing the cursor.
CLEAR_SCREEN = "\x1b[2J\x1b[H"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits."""
    i = 0
    while size >= 1024.0 and i < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{_BINARY_UNITS[i]}"


def cpu_percent(previous: pb.ContainerStats | None, current: pb.ContainerStats) -> float:
    """docker's calculateCPUPercentUnix over two samples of the same container."""
    if previous is None:
        return 0.0
    cpu_delta = float(current.cpu_usage_ns) - float(previous.cpu_usage_ns)
    system_delta = float(current.system_cpu_ns) - float(previous.system_cpu_ns)
    if system_delta > 0.0 and cpu_delta > 0.0:
        return cpu_delta / system_delta * float(current.online_cpus or 1) * 100.0
    return 0.0


def stats_fields(
    given: str, s: pb.ContainerStats | None, previous: pb.ContainerStats | None, trunc: bool
) -> dict[str, str]:
    """One row as docker's statsContext; "--" for a container with no sample (stopped)."""
    if s is None:
        return {
            "BlockIO": "-- / --",
            "CPUPerc": "--",
            "Container": given,
            "ID": given,
            "MemPerc": "--",
            "MemUsage": "-- / --",
            "Name": "--",
            "NetIO": "-- / --",
            "PIDs": "--",
        }
    mem_percent = s.memory_usage / s.memory_limit * 100.0 if s.memory_limit else 0.0
    return {
        "BlockIO": f"{output.image_size(s.block_read_bytes)} / "
        f"{output.image_size(s.block_write_bytes)}",
        "CPUPerc": f"{cpu_percent(previous, s):.2f}%",
        "Container": given or output.short_id(s.id, trunc),
        "ID": output.short_id(s.id, trunc),
        "MemPerc": f"{mem_percent:.2f}%",
        "MemUsage": f"{bytes_size(s.memory_usage)} / {bytes_size(s.memory_limit)}",
        "Name": s.name.removeprefix("/") or "--",
        "NetIO": f"{output.image_size(s.net_rx_bytes)} / {output.image_size(s.net_tx_bytes)}",
        "PIDs": str(s.pids),
    }


def render_stats(rows: list[dict[str, str]], fmt: str) -> str:
    if fmt == "json":
        return "".join(output.json_line(r) + "\n" for r in rows)
    return template.render(fmt if fmt and fmt != "table" else STATS_TABLE, rows, STATS_HEADERS)


class StatsView:
    """Rows in the order of the names asked for, else in the daemon's order; each round's
    CPU % against the round before."""

    def __init__(self, names: list[str], trunc: bool) -> None:
        self.names = names
        self.trunc = trunc
        self.previous: dict[str, pb.ContainerStats] = {}

    def rows(self, samples: list[pb.ContainerStats]) -> list[dict[str, str]]:
        by_key: dict[str, pb.ContainerStats] = {}
        for s in samples:
            for key in (s.id, s.name.removeprefix("/")):
                by_key[key] = s
        rows = []
        if self.names:
            for name in self.names:
                s = by_key.get(name) or next((x for x in samples if x.id.startswith(name)), None)
                rows.append(
                    stats_fields(name, s, self.previous.get(s.id) if s else None, self.trunc)
                )
        else:
            for s in samples:
                rows.append(stats_fields("", s, self.previous.get(s.id), self.trunc))
        self.previous = {s.id: s for s in samples}
        return rows


def stats(ctx: Context, args: argparse.Namespace) -> int:
    fmt = args.format or ""
    if fmt and fmt not in ("json", "table"):
        template.Template(fmt)
    names = list(args.containers)
    if args.all and not names:
        with ctx.daemon.calls():
            listed = stub(ctx).List(pb.ListContainersRequest(all=True))
        names = [c.id for c in listed.containers]
        if not names:
            ctx.stdout.write(render_stats([], fmt))
            return 0
    view = StatsView(names, trunc=not args.no_trunc)
    # CPU % needs two samples: even --no-stream reads two rounds, as docker's daemon does.
    call = stub(ctx).Stats(pb.StatsRequest(containers=names, stream=True))
    rounds = 0
    last: list[dict[str, str]] = []
    try:
        with ctx.daemon.calls():
            for resp in call:
                rounds += 1
                last = view.rows(list(resp.stats))
                if args.no_stream:
                    if rounds >= 2:
                        break
                    continue
                ctx.stdout.write(CLEAR_SCREEN + render_stats(last, fmt))
                ctx.stdout.flush()
    except KeyboardInterrupt:
        call.cancel()
        raise
    finally:
        if rounds >= 2 or (args.no_stream and rounds):
            call.cancel()
    if args.no_stream:
        ctx.stdout.write(render_stats(last, fmt))
    return 0


# --- attach --------------------------------------------------------------------------------


def attach(ctx: Context, args: argparse.Namespace) -> int:
    doc = inspect_documents(ctx, [args.container])[0]
    state = doc.get("State") or {}
    config = doc.get("Config") or {}
    if not state.get("Running"):
        raise CLIError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CLIError("You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise CLIError("You cannot attach to a restarting container, wait until it is running")
    tty = bool(config.get("Tty"))
    stdin = not args.no_stdin and bool(config.get("OpenStdin"))
    if stdin and tty and not stdio.is_terminal(ctx.stdin):
        raise CLIError("the input device is not a TTY")
    open_message = pb.AttachOpen(container=args.container, stdin=stdin, stdout=True, stderr=True)
    return stdio_session(
        ctx,
        args.container,
        open_message,
        tty=tty,
        sig_proxy=args.sig_proxy,
        detach_keys=args.detach_keys,
    )


def stdio_session(
    ctx: Context,
    container: str,
    open_message: pb.AttachOpen,
    *,
    tty: bool,
    sig_proxy: bool,
    detach_keys: str = "",
) -> int:
    """Attaches (and starts, with open.start), pumps stdio and returns the exit code; a
    process that could not start ends it with its error on stderr."""
    status = attach_session(
        ctx, container, open_message, tty=tty, sig_proxy=sig_proxy, detach_keys=detach_keys
    )
    if status is None:
        # Detached while it runs, or the stream ended early: docker asks for the exit.
        with ctx.daemon.calls():
            return stub(ctx).Wait(pb.WaitContainerRequest(container=container)).exit_code
    if not status.started:
        raise CLIError(f"Error response from daemon: {status.error}", status.exit_code or 1)
    return status.exit_code


def attach_session(
    ctx: Context,
    container: str,
    open_message: pb.AttachOpen,
    *,
    tty: bool,
    sig_proxy: bool,
    detach_keys: str = "",
) -> pb.ExitStatus | None:
    size = stdio.terminal_size(ctx.stdout) if tty else None
    if size is not None:
        open_message.size.CopyFrom(size)
    pump = stdio.Pump(
        ctx,
        pb.AttachRequest,
        open_message,
        stdin=open_message.stdin,
        tty=tty,
        detach_keys=detach_keys,
    )

    def forward(sig: str) -> None:
        with ctx.daemon.calls():
            stub(ctx).Kill(pb.KillContainerRequest(container=container, signal=sig))

    proxy = stdio.forward_signals(forward) if sig_proxy and not tty else contextlib.nullcontext()
    with proxy, ctx.daemon.calls():
        return pump.run(stub(ctx).Attach).exit


# --- prune ---------------------------------------------------------------------------------

PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def prune(ctx: Context, args: argparse.Namespace) -> int:
    if not args.force and not images.confirm(ctx, PRUNE_WARNING):
        return 0
    with ctx.daemon.calls():
        resp = stub(ctx).Prune(pb.PruneContainersRequest(filters=args.filter))
    if resp.deleted:
        ctx.out("Deleted Containers:")
        for deleted in resp.deleted:
            ctx.out(deleted)
    ctx.out()
    ctx.out(f"Total reclaimed space: {output.human_size(resp.space_reclaimed)}")
    return 0


# --- the command tree ----------------------------------------------------------------------


def _ps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers")
    p.add_argument(
        "-f", "--filter", type=filter_arg, action="append", default=[], metavar="KEY=VALUE"
    )
    p.add_argument("--format", default="", help="'json', 'table' or a Go-like template")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    cli_args.takes(p, "[OPTIONS]")


def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="", help="'json' or a Go-like template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    cli_args.takes(p, "[OPTIONS] CONTAINER [CONTAINER...]", "containers", least=1, most=None)


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("--since", default="", help="Since a timestamp or relative (42m)")
    p.add_argument("-n", "--tail", default="all", help="Lines to show from the end")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--until", default="", help="Before a timestamp or relative (42m)")
    cli_args.takes(p, "[OPTIONS] CONTAINER", "container", least=1, most=1)


def _names(p: argparse.ArgumentParser, use: str = "[OPTIONS] CONTAINER [CONTAINER...]") -> None:
    cli_args.takes(p, use, "containers", least=1, most=None)


def _stop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--time", type=int, default=None, help="Seconds to wait before killing")
    _names(p)


def _kill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="Signal to send to the container")
    _names(p)


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running one")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes too")
    _names(p)


def _rename_args(p: argparse.ArgumentParser) -> None:
    cli_args.takes(p, "CONTAINER NEW_NAME", "old", "new", least=2, most=2)


def _top_args(p: argparse.ArgumentParser) -> None:
    runflags.interspersed_off(p)
    cli_args.takes(p, "CONTAINER [ps OPTIONS]", "container", "ps_args", least=1, most=None)


def _stats_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers")
    p.add_argument("--format", default="", help="'json', 'table' or a Go-like template")
    p.add_argument("--no-stream", action="store_true", help="Print one round and exit")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    cli_args.takes(p, "[OPTIONS] [CONTAINER...]", "containers", most=None)


def _attach_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--detach-keys",
        default="",
        help="Keys that detach from the container (default ctrl-p,ctrl-q)",
    )
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    cli_args.add_bool(p, "--sig-proxy", default=True, help="Proxy received signals")
    cli_args.takes(p, "[OPTIONS] CONTAINER", "container", least=1, most=1)


def _prune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", type=filter_arg, action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    cli_args.takes(p, "[OPTIONS]")


# name(s), function, flags, help: the commands both at the top level and under `container`.
_COMMANDS: list[tuple[list[str], Command, Callable[[argparse.ArgumentParser], None], str]] = [
    (
        ["attach"],
        attach,
        _attach_args,
        "Attach local standard input, output, and error streams to a running container",
    ),
    (["inspect"], inspect, _inspect_args, "Display detailed information on one or more containers"),
    (["kill"], kill, _kill_args, "Kill one or more running containers"),
    (["logs"], logs, _logs_args, "Fetch the logs of a container"),
    (["pause"], pause, _names, "Pause all processes within one or more containers"),
    (
        ["port"],
        port.port,
        port.port_args,
        "List port mappings or a specific mapping for the container",
    ),
    (["rename"], rename, _rename_args, "Rename a container"),
    (["restart"], restart, _stop_args, "Restart one or more containers"),
    (["rm"], rm, _rm_args, "Remove one or more containers"),
    (
        ["stats"],
        stats,
        _stats_args,
        "Display a live stream of container(s) resource usage statistics",
    ),
    (["stop"], stop, _stop_args, "Stop one or more running containers"),
    (["top"], top, _top_args, "Display the running processes of a container"),
    (["unpause"], unpause, _names, "Unpause all processes within one or more containers"),
    (
        ["wait"],
        wait,
        _names,
        "Block until one or more containers stop, then print their exit codes",
    ),
]


def register(
    commands: cli_args.Commands,
) -> cli_args.Commands:
    """The `container` group and the top-level shortcuts; returns the group's subcommands
    so run, create, start, exec and cp can join it. `inspect` at the top level is the
    images' one taken over (see take_over_inspect)."""
    group = commands.add_parser("container", help="Manage containers")
    group.set_defaults(func=None)
    container_commands = group.add_subparsers(dest="container_command", metavar="COMMAND")
    cli_args.command(container_commands, ["ls", "list", "ps"], ps, _ps_args, "List containers")
    cli_args.command(commands, ["ps"], ps, _ps_args, "List containers")
    for names, func, add_args, help_text in _COMMANDS:
        cli_args.command(container_commands, names, func, add_args, help_text)
        if names[0] != "inspect":
            cli_args.command(commands, names, func, add_args, help_text)
    cli_args.command(
        container_commands, ["prune"], prune, _prune_args, "Remove all stopped containers"
    )
    return container_commands


def take_over_inspect(commands: cli_args.Commands) -> None:
    """`caisson inspect` looks for containers, then images and volumes, as `docker inspect`.
    The images register it first; its parser gains --type and -s and calls inspect_any."""
    commands.amend("inspect", _any_inspect_args)


def _any_inspect_args(p: argparse.ArgumentParser) -> None:
    text = "Return low-level information on Caisson objects"
    p.description = text
    p.add_argument("--type", default="", help="Only this type: container, image or volume")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.usage = f"{p.prog} [OPTIONS] NAME|ID [NAME|ID...]"
    p.set_defaults(func=inspect_any)
