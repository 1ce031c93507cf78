"""A fake daemon for the container and volume commands: a real gRPC server on a unix socket in
a temp dir whose Containers, Volumes and Images servicers answer from a scripted state and
record what they were asked. No tests here; test_cli_run*.py and test_cli_containers*.py
import the `daemon` fixture and the helpers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, timestamp_pb2

from caisson import errors, server
from caisson.cli import app
from caisson_api.daemon.v1 import containers_pb2 as pb
from caisson_api.daemon.v1 import containers_pb2_grpc, daemon_pb2, daemon_pb2_grpc

DIGEST = "sha256:" + "cd" * 32
IMAGE_ID = "sha256:" + "ab" * 32
LAYER = "sha256:" + "1a" * 32


def container_id(n: int) -> str:
    return hashlib.sha256(f"container-{n}".encode()).hexdigest()


@dataclass
class Container:
    id: str
    name: str
    request: pb.CreateContainerRequest
    running: bool = False
    paused: bool = False


@dataclass
class State:
    """What the fake daemon holds, how it behaves, and what it was asked."""

    requests: list[Any] = field(default_factory=list)
    images: set[str] = field(default_factory=lambda: {"busybox:latest"})
    containers: dict[str, Container] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # What an attached or exec'd process writes, then its exit status.
    output: list[tuple[str, bytes]] = field(default_factory=list)
    exit: pb.ExitStatus = field(default_factory=lambda: pb.ExitStatus(exit_code=0, started=True))
    # Set: the process echoes its stdin to stdout until the end of input.
    echo: bool = False
    stdin: list[bytes] = field(default_factory=list)
    resizes: list[pb.Resize] = field(default_factory=list)
    stdin_closed: threading.Event = field(default_factory=threading.Event)
    # Set: Attach streams output, then waits (for signals to arrive) until a Kill.
    hold: bool = False
    killed: threading.Event = field(default_factory=threading.Event)
    start_error: str = ""
    summaries: list[pb.ContainerSummary] = field(default_factory=list)
    logs: list[pb.LogChunk] = field(default_factory=list)
    stats_rounds: list[list[pb.ContainerStats]] = field(default_factory=list)
    pull_fails: str = ""
    volumes: dict[str, pb.Volume] = field(default_factory=dict)
    copy_stat: pb.PathStat | None = None
    copy_data: bytes = b""
    copied_to: list[tuple[str, bytes]] = field(default_factory=list)

    def find(self, name: str) -> Container:
        for c in self.containers.values():
            if name in (c.name, c.id) or (len(name) >= 3 and c.id.startswith(name)):
                return c
        raise errors.NotFound(f"No such container: {name}")

    def add(self, name: str, image: str = "busybox:latest", **config: Any) -> Container:
        req = pb.CreateContainerRequest(name=name, config=pb.ContainerConfig(image=image, **config))
        c = Container(container_id(len(self.containers)), name, req)
        self.containers[c.id] = c
        return c

    def document(self, c: Container) -> dict[str, Any]:
        return {
            "Id": c.id,
            "Name": "/" + c.name,
            "State": {"Running": c.running, "Paused": c.paused, "Restarting": False},
            "Config": {"Tty": c.request.config.tty, "OpenStdin": c.request.config.open_stdin},
        }


def _stdio(state: State, requests: Iterator[Any]) -> Iterator[tuple[str, Any]]:
    """What the fake process does once attached: its output, echoes, then the exit."""

    def read_input() -> None:
        for req in requests:
            kind = req.WhichOneof("request")
            if kind == "stdin":
                state.stdin.append(req.stdin)
            elif kind == "resize":
                state.resizes.append(req.resize)
            elif kind == "close_stdin":
                state.stdin_closed.set()

    yield from state.output
    if state.echo:
        for req in requests:
            kind = req.WhichOneof("request")
            if kind == "stdin":
                state.stdin.append(req.stdin)
                yield "stdout", req.stdin
            elif kind == "close_stdin":
                state.stdin_closed.set()
                break
    else:
        threading.Thread(target=read_input, daemon=True).start()
    if state.hold:
        state.killed.wait(30)
    yield "exit", state.exit


class FakeContainers(containers_pb2_grpc.ContainersServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        image = request.config.image
        if ":" not in image and "@" not in image:
            image += ":latest"
        if image not in self.state.images:
            raise errors.NotFound(f"No such image: {image}")
        c = Container(
            container_id(len(self.state.containers)), request.name or "eager_fake", request
        )
        self.state.containers[c.id] = c
        return pb.CreateContainerResponse(id=c.id, warnings=self.state.warnings)

    def Start(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        c = self.state.find(request.container)
        if self.state.start_error:
            raise errors.FailedPrecondition(self.state.start_error)
        c.running = True
        return empty_pb2.Empty()

    def Attach(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        first = next(request_iterator)
        self.state.requests.append(first)
        c = self.state.find(first.open.container)
        yield pb.AttachResponse(attached=c.id)
        for kind, value in _stdio(self.state, request_iterator):
            if kind == "exit":
                yield pb.AttachResponse(exit=value)
            else:
                yield pb.AttachResponse(**{kind: value})

    def Exec(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        first = next(request_iterator)
        self.state.requests.append(first)
        self.state.find(first.open.container)
        yield pb.ExecResponse(started="exec-1")
        if first.open.detach:
            return
        for kind, value in _stdio(self.state, request_iterator):
            if kind == "exit":
                yield pb.ExecResponse(exit=value)
            else:
                yield pb.ExecResponse(**{kind: value})

    def Wait(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container)
        return pb.WaitContainerResponse(exit_code=self.state.exit.exit_code)

    def _simple(self, request: Any) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container)
        return empty_pb2.Empty()

    def Stop(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._simple(request)

    def Restart(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._simple(request)

    def Kill(self, request: Any, context: grpc.ServicerContext) -> Any:
        result = self._simple(request)
        self.state.killed.set()
        return result

    def Remove(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        c = self.state.find(request.container)
        if c.running and not request.force:
            raise errors.FailedPrecondition(
                f"You cannot remove a running container {c.id}. Stop the container before "
                "attempting removal or force remove"
            )
        del self.state.containers[c.id]
        return empty_pb2.Empty()

    def Pause(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._simple(request)

    def Unpause(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._simple(request)

    def Rename(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container).name = request.name
        return empty_pb2.Empty()

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        return pb.ListContainersResponse(containers=self.state.summaries)

    def Inspect(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        docs = [json.dumps(self.state.document(self.state.find(n))) for n in request.containers]
        return pb.InspectContainersResponse(documents=docs)

    def Logs(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container)
        yield from self.state.logs

    def Top(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container)
        return pb.TopResponse(
            titles=["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
            processes=[pb.TopRow(values=["root", "1", "0", "0", "10:00", "?", "00:00:00", "sh"])],
        )

    def Stats(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        for name in request.containers:
            self.state.find(name)
        for stats in self.state.stats_rounds:
            yield pb.StatsResponse(stats=stats)

    def Prune(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        return pb.PruneContainersResponse(deleted=["a" * 64], space_reclaimed=2_000_000)

    def CopyFrom(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        self.state.find(request.container)
        if self.state.copy_stat is None:
            raise errors.NotFound(f"Could not find the file {request.path} in container")
        yield pb.CopyChunk(stat=self.state.copy_stat)
        data = self.state.copy_data
        for i in range(0, len(data), 1000):
            yield pb.CopyChunk(data=data[i : i + 1000])

    def CopyTo(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        first = next(request_iterator)
        self.state.requests.append(first)
        self.state.find(first.open.container)
        data = b"".join(r.data for r in request_iterator)
        self.state.copied_to.append((first.open.path, data))
        return empty_pb2.Empty()


class FakeVolumes(containers_pb2_grpc.VolumesServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    def _find(self, name: str) -> pb.Volume:
        if name not in self.state.volumes:
            raise errors.NotFound(f"get {name}: no such volume")
        return self.state.volumes[name]

    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        name = request.name or "f" * 64
        volume = pb.Volume(
            name=name,
            driver=request.driver or "local",
            mountpoint=f"/var/lib/caisson/volumes/{name}/_data",
            labels=request.labels,
            options=request.options,
            scope="local",
            ref_count=-1,
            size=-1,
        )
        volume.created.FromSeconds(1_700_000_000)
        self.state.volumes[name] = volume
        return volume

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        return pb.ListVolumesResponse(volumes=list(self.state.volumes.values()))

    def Inspect(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        return pb.InspectVolumesResponse(volumes=[self._find(n) for n in request.names])

    def Remove(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        if request.name == "busy":
            raise errors.FailedPrecondition("remove busy: volume is in use - [" + "a" * 64 + "]")
        self._find(request.name)
        del self.state.volumes[request.name]
        return empty_pb2.Empty()

    def Prune(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        deleted = sorted(self.state.volumes)
        self.state.volumes.clear()
        return pb.PruneVolumesResponse(deleted=deleted, space_reclaimed=1_500)


class FakeImages(daemon_pb2_grpc.ImagesServicer):
    """Pull (which makes the image present) and Inspect, for run's pull and `inspect`."""

    def __init__(self, state: State) -> None:
        self.state = state

    def Pull(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        if self.state.pull_fails:
            raise errors.NotFound(self.state.pull_fails)
        layer = daemon_pb2.LayerProgress(
            id=LAYER[7:19], digest=LAYER, status=daemon_pb2.LAYER_STATUS_PULL_COMPLETE
        )
        yield daemon_pb2.PullEvent(layers=daemon_pb2.LayerList(layers=[layer]))
        self.state.images.add(request.reference.removeprefix("docker.io/library/"))
        result = daemon_pb2.PullResult(
            reference=f"docker.io/library/{request.reference}",  # familiar in, normalised out
            digest=DIGEST,
            image_id=IMAGE_ID,
            downloaded=True,
        )
        yield daemon_pb2.PullEvent(result=result)

    def Inspect(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.state.requests.append(request)
        docs = []
        for ref in request.references:
            if ref not in self.state.images:
                raise errors.NotFound(f"No such image: {ref}")
            docs.append(json.dumps({"Id": IMAGE_ID, "RepoTags": [ref]}))
        return daemon_pb2.InspectImageResponse(documents=docs)


def ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


@dataclass
class Daemon:
    host: str
    state: State
    config_dir: str

    def run(self, *argv: str, stdin: str | io.TextIOBase = "") -> tuple[int, str, str]:
        """The CLI in-process; returns (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        env = {"CAISSON_CONFIG": self.config_dir}
        source = io.StringIO(stdin) if isinstance(stdin, str) else stdin
        code = app.run(
            ["-H", self.host, *argv],
            stdin=source,  # type: ignore[arg-type]
            stdout=out,
            stderr=err,
            environ=env,
        )
        return code, out.getvalue(), err.getvalue()

    def asked(self, kind: type) -> list[Any]:
        return [r for r in self.state.requests if isinstance(r, kind)]


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    tmp = tempfile.mkdtemp(prefix="caisson-ctr-")
    state = State()
    srv = server.Server("fake-daemon", max_workers=16)
    srv.add(
        containers_pb2_grpc.add_ContainersServicer_to_server,
        FakeContainers(state),
        "caisson.daemon.v1.Containers",
    )
    srv.add(
        containers_pb2_grpc.add_VolumesServicer_to_server,
        FakeVolumes(state),
        "caisson.daemon.v1.Volumes",
    )
    srv.add(
        daemon_pb2_grpc.add_ImagesServicer_to_server, FakeImages(state), "caisson.daemon.v1.Images"
    )
    sock = os.path.join(tmp, "daemon.sock")
    srv.listen(server.Address("unix", path=sock))
    srv.start()
    try:
        yield Daemon(f"unix://{sock}", state, os.path.join(tmp, "config"))
    finally:
        state.killed.set()
        srv.stop(0)
        shutil.rmtree(tmp, ignore_errors=True)
