"""The Executor gRPC service end to end over a unix socket: in-process (caisson.server with the
servicer) and as the real `caisson-executor` process (flags, health, SIGTERM); plus cgroup mode
detection and the refusal to start without root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import empty_pb2
from test_unpack_support import f, layer, store, sym

from caisson import server
from caisson.content import ContentStore
from caisson.executor import cgroups, main
from caisson.executor.service import SERVICE_NAME, ExecutorService
from caisson.executor.snapshots import Snapshotter, chain_id
from caisson.executor.syscalls import RealSyscalls, RecordingSyscalls
from caisson_api.executor.v1 import executor_pb2 as pb
from caisson_api.executor.v1 import executor_pb2_grpc


@dataclass
class Running:
    base: str
    content: ContentStore
    stub: executor_pb2_grpc.ExecutorStub
    channel: grpc.Channel


@pytest.fixture
def base() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="caisson-exec-")
    yield path
    shutil.rmtree(path)


@pytest.fixture
def running(base: str) -> Iterator[Running]:
    content = ContentStore(os.path.join(base, "content"))
    content.init()
    snaps = Snapshotter(
        os.path.join(base, "snapshots"),
        content,
        RealSyscalls() if os.geteuid() == 0 else RecordingSyscalls(),
    )
    snaps.init()
    srv = server.Server("executor-test", max_workers=8)
    srv.add(
        executor_pb2_grpc.add_ExecutorServicer_to_server,
        ExecutorService(snaps, "hybrid"),
        SERVICE_NAME,
    )
    srv.on_stop(snaps.close)
    sock = os.path.join(base, "executor.sock")
    srv.listen(server.parse_address(f"unix://{sock}"))
    srv.start()
    ch = server.channel(f"unix://{sock}")
    try:
        yield Running(base, content, executor_pb2_grpc.ExecutorStub(ch), ch)
    finally:
        ch.close()
        srv.stop(grace=1)
    assert not os.path.exists(sock)


def test_unpack_list_info_remove_over_grpc(running: Running) -> None:
    b = layer([f("bin/tool", os.urandom(500_000), mode=0o755), sym("bin/t", "tool")])
    store(running.content, b)
    req = pb.UnpackRequest(
        blob_digest=b.digest, media_type=b.media_type, diff_id=b.diff_id, chain_id=b.diff_id
    )
    events = list(running.stub.Unpack(req, timeout=30))
    assert events[0].state == pb.UNPACK_STATE_EXTRACTING and events[0].total == len(b.data)
    assert events[-1].state == pb.UNPACK_STATE_DONE
    assert (
        events[-1].size == 500_004
    )  # file + symlink target "tool" and events[-1].chain_id == b.diff_id
    again = list(running.stub.Unpack(req, timeout=30))
    assert [e.state for e in again] == [pb.UNPACK_STATE_EXISTS] and again[0].size == 500_004

    child = layer([f("etc/conf", b"c")])
    store(running.content, child)
    child_chain = chain_id(b.diff_id, child.diff_id)
    list(
        running.stub.Unpack(
            pb.UnpackRequest(
                blob_digest=child.digest,
                media_type=child.media_type,
                diff_id=child.diff_id,
                chain_id=child_chain,
                parent_chain_id=b.diff_id,
            ),
            timeout=30,
        )
    )
    listed = {s.chain_id: s for s in running.stub.ListSnapshots(empty_pb2.Empty()).snapshots}
    assert listed[child_chain].parent_chain_id == b.diff_id
    assert listed[child_chain].diff_id == child.diff_id and listed[child_chain].size == 1

    info = running.stub.Info(empty_pb2.Empty())
    assert info.version and info.cgroup_mode == "hybrid" and info.snapshots == 2
    assert info.snapshot_root == os.path.join(running.base, "snapshots")

    running.stub.RemoveSnapshot(pb.RemoveSnapshotRequest(chain_id=child_chain))
    assert running.stub.Info(empty_pb2.Empty()).snapshots == 1
    with pytest.raises(grpc.RpcError) as ei:
        running.stub.RemoveSnapshot(pb.RemoveSnapshotRequest(chain_id=child_chain))
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND


def test_errors_cross_the_wire_as_status_codes(running: Running) -> None:
    hostile = layer([f("../../escape", b"x")])
    store(running.content, hostile)
    req = pb.UnpackRequest(
        blob_digest=hostile.digest,
        media_type=hostile.media_type,
        diff_id=hostile.diff_id,
        chain_id=hostile.diff_id,
    )
    with pytest.raises(grpc.RpcError) as ei:
        list(running.stub.Unpack(req, timeout=30))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'../../escape' would be written outside the snapshot" in ei.value.details()

    wrong = "sha256:" + "ee" * 32
    req.diff_id = req.chain_id = wrong
    good = layer([f("x")])
    store(running.content, good)
    req.blob_digest = good.digest
    with pytest.raises(grpc.RpcError) as ei:
        list(running.stub.Unpack(req, timeout=30))
    assert ei.value.code() == grpc.StatusCode.DATA_LOSS

    req.blob_digest = "sha256:" + "12" * 32
    with pytest.raises(grpc.RpcError) as ei:
        list(running.stub.Unpack(req, timeout=30))
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
    assert running.stub.Info(empty_pb2.Empty()).snapshots == 0


def _start_executor(base: str, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "caisson.executor.main"]
    return subprocess.Popen(
        [
            *argv,
            "--data-root",
            os.path.join(base, "data"),
            "--exec-root",
            os.path.join(base, "run"),
            "--log-format",
            "json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="the executor refuses to start without root")
def test_executor_process_serves_and_stops_on_sigterm(base: str) -> None:
    # no --listen: the socket is EXEC_ROOT/executor.sock
    proc = _start_executor(base)
    sock = os.path.join(base, "run", "executor.sock")
    try:
        ch = server.channel(f"unix://{sock}")
        assert server.wait_healthy(ch, 30, alive=lambda: proc.poll() is None)
        assert server.health_status(ch, SERVICE_NAME) == "SERVING"
        info = executor_pb2_grpc.ExecutorStub(ch).Info(empty_pb2.Empty(), timeout=10)
        assert info.snapshot_root == os.path.join(base, "data", "snapshots")
        assert info.cgroup_mode == cgroups.detect_mode()
        ch.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert b'"event": "executor serving"' in err
    assert not os.path.exists(sock)


def test_executor_flags() -> None:
    args = main.parse_args([])
    assert args.listen == "unix:///run/caisson/executor.sock"
    assert (args.data_root, args.exec_root) == ("/var/lib/caisson", "/run/caisson")
    assert (args.log_level, args.log_format) == ("info", "text")
    args = main.parse_args(["--exec-root", "/x", "--listen", "tcp://127.0.0.1:7"])
    assert args.listen == "tcp://127.0.0.1:7"
    assert main.parse_args(["--exec-root", "/x"]).listen == "unix:///x/executor.sock"


def test_executor_refuses_to_start_without_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], base: str
) -> None:
    # (an unprivileged process cannot reach this machine's Python under /root to try for real)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main.main(["--data-root", base, "--exec-root", base]) == 1
    assert "caisson-executor: must run as root" in capsys.readouterr().err
    assert os.listdir(base) == []


def test_bad_listen_address_is_one_clear_line(base: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to get past the root check")
    proc = _start_executor(base, "--listen", "http://nope")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.decode().strip().endswith("expected unix:///PATH or tcp://HOST:PORT")


def _tree(root: str, files: list[str]) -> str:
    for rel in files:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
    return root


@pytest.mark.parametrize(
    ("files", "mode"),
    [
        (["cgroup.controllers", "cgroup.procs"], "v2"),
        (["cpu/tasks", "memory/tasks", "unified/cgroup.controllers"], "hybrid"),
        (["cpu/tasks", "memory/tasks", "systemd/tasks"], "v1"),
        ([], "none"),
    ],
)
def test_cgroup_mode_detection(base: str, files: list[str], mode: str) -> None:
    assert cgroups.detect_mode(_tree(os.path.join(base, "cg"), files)) == mode


def test_cgroup_mode_of_this_host() -> None:
    assert cgroups.detect_mode() in ("v1", "v2", "hybrid")
