"""ps, inspect, logs, wait, stop, restart, kill, rm, pause, unpause, rename, top and
container prune: their output and wording as docker 20.10's, against the fake daemon."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from caisson.cli import containers
from caisson_api.daemon.v1 import containers_pb2 as pb
from tests.unit import test_cli_containers_fake as fake
from tests.unit.test_cli_containers_fake import Daemon, ts

daemon = fake.daemon  # the fixture
NOW = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
CID = "3f" * 32


def summary(**kw: object) -> pb.ContainerSummary:
    base: dict[str, object] = {
        "id": CID,
        "names": ["web"],
        "image": "busybox:latest",
        "image_id": "sha256:" + "ab" * 32,
        "command": "sh -c 'while true; do sleep 1; done'",
        "created": ts(int(NOW.timestamp()) - 300),
        "state": "running",
        "status": "Up 5 minutes",
    }
    base.update(kw)
    return pb.ContainerSummary(**base)  # type: ignore[arg-type]


# --- ps ------------------------------------------------------------------------------------


def test_ps_table_truncates_like_docker() -> None:
    text = containers.render_containers(
        [summary(ports=["0.0.0.0:8080->80/tcp", "53/udp"])], now=NOW
    )
    assert text.splitlines() == [
        "CONTAINER ID   IMAGE            COMMAND                  CREATED         STATUS"
        "         PORTS                          NAMES",
        '3f3f3f3f3f3f   busybox:latest   "sh -c \'while true; …"   5 minutes ago   Up 5 minutes'
        "   0.0.0.0:8080->80/tcp, 53/udp   web",
    ]


def test_ps_no_trunc_quiet_and_size() -> None:
    items = [summary(size_rw=12, size_root_fs=4_261_000)]
    full = containers.render_containers(items, trunc=False, now=NOW)
    assert CID in full and "\"sh -c 'while true; do sleep 1; done'\"" in full
    assert containers.render_containers(items, quiet=True) == "3f3f3f3f3f3f\n"
    assert containers.render_containers(items, quiet=True, trunc=False) == CID + "\n"
    sized = containers.render_containers(items, size=True, now=NOW).splitlines()
    assert sized[0].endswith("NAMES     SIZE")
    assert sized[1].endswith("web       12B (virtual 4.26MB)")


@pytest.mark.parametrize(
    ("image", "image_id", "shown"),
    [
        ("busybox", "sha256:" + "ab" * 32, "busybox"),
        ("docker.io/library/busybox:1.36", "", "busybox:1.36"),
        ("busybox@sha256:" + "cd" * 32, "", "busybox"),
        ("ab" * 32, "sha256:" + "ab" * 32, "abababababab"),
        ("", "", "<no image>"),
    ],
)
def test_ps_image_column(image: str, image_id: str, shown: str) -> None:
    assert containers.image_column(image, image_id, trunc=True) == shown


def test_command_is_quoted_as_go() -> None:
    assert containers.go_quote('echo "hi"\n\ttab\\') == '"echo \\"hi\\"\\n\\ttab\\\\"'
    assert containers.go_quote("\x01é…") == '"\\x01é…"'


def test_ps_format_json_and_template() -> None:
    items = [summary(labels={"b": "2", "a": "1"}, mounts=["vol", "/host/path"])]
    line = containers.render_containers(items, fmt="json", now=NOW)
    data = json.loads(line)
    assert sorted(data) == sorted(containers.CONTAINER_HEADERS)
    assert data["Labels"] == "a=1,b=2" and data["LocalVolumes"] == "1"
    assert data["Names"] == "web" and data["RunningFor"] == "5 minutes ago"
    text = containers.render_containers(items, fmt="table {{.Names}}\\t{{.State}}", now=NOW)
    assert text == "NAMES     STATE\nweb       running\n"
    assert containers.render_containers(items, fmt="{{.ID}} {{.Image}}") == (
        "3f3f3f3f3f3f busybox:latest\n"
    )


def test_ps_request_flags(daemon: Daemon) -> None:
    daemon.state.summaries = [summary()]
    code, out, _ = daemon.run("ps", "-a", "--filter", "status=exited", "-f", "name=web", "-s")
    assert code == 0 and out.splitlines()[0].endswith("SIZE")
    assert daemon.asked(pb.ListContainersRequest)[-1] == pb.ListContainersRequest(
        all=True, filters=["status=exited", "name=web"], size=True
    )
    daemon.run("container", "ls", "-l")
    assert daemon.asked(pb.ListContainersRequest)[-1].limit == 1
    daemon.run("container", "list", "-n", "3", "--format", "{{.Size}}")
    last = daemon.asked(pb.ListContainersRequest)[-1]
    assert last.limit == 3 and last.size  # the template shows sizes: docker asks for them
    code, _, err = daemon.run("ps", "--filter", "nonsense")
    assert code == 125 and "bad format of filter (expected name=value)" in err


# --- inspect -------------------------------------------------------------------------------


def test_container_inspect_and_its_not_found(daemon: Daemon) -> None:
    daemon.state.add("web")
    code, out, err = daemon.run("container", "inspect", "web", "nope")
    assert code == 1 and err == "Error: No such container: nope\n"
    docs = json.loads(out)
    assert [d["Name"] for d in docs] == ["/web"]
    code, out, _ = daemon.run("container", "inspect", "-f", "{{.Name}} {{.State.Running}}", "web")
    assert (code, out) == (0, "/web false\n")
    code, out, err = daemon.run("container", "inspect", "nope")
    assert (code, out, err) == (1, "[]\n", "Error: No such container: nope\n")


def test_top_level_inspect_tries_containers_images_networks_then_volumes(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.run("volume", "create", "data")
    code, out, err = daemon.run("inspect", "web", "busybox:latest", "data", "nothing")
    assert code == 1 and err == "Error: No such object: nothing\n"
    docs = json.loads(out)
    assert docs[0]["Name"] == "/web" and docs[1]["RepoTags"] == ["busybox:latest"]
    assert docs[2]["Name"] == "data"
    code, out, err = daemon.run("inspect", "--type", "image", "web")
    assert (code, out, err) == (1, "[]\n", "Error: No such image: web\n")
    code, _, err = daemon.run("inspect", "--type", "network", "web")
    assert (code, err) == (1, "Error: No such network: web\n")
    code, _, err = daemon.run("inspect", "--type", "plugin", "web")
    assert (code, err) == (1, '"plugin" is not a valid value for --type\n')
    code, out, _ = daemon.run("inspect", "--format", "{{.Id}}", "--type", "container", "web")
    assert code == 0 and out == fake.container_id(0) + "\n"


# --- logs ----------------------------------------------------------------------------------


def test_logs_streams_to_the_matching_stream_with_timestamps(daemon: Daemon) -> None:
    daemon.state.add("web")
    daemon.state.logs = [
        pb.LogChunk(stream=pb.STREAM_STDOUT, data=b"out\n", time=ts(1_700_000_000, 5)),
        pb.LogChunk(stream=pb.STREAM_STDERR, data=b"err\n", time=ts(1_700_000_001, 123456789)),
    ]
    code, out, err = daemon.run("logs", "web")
    assert (code, out, err) == (0, "out\n", "err\n")
    code, out, err = daemon.run("logs", "-t", "web")
    assert out == "2023-11-14T22:13:20.000000005Z out\n"
    assert err == "2023-11-14T22:13:21.123456789Z err\n"


def test_logs_request_flags(daemon: Daemon) -> None:
    daemon.state.add("web")
    code, _, _ = daemon.run(
        "logs",
        "-f",
        "--tail",
        "5",
        "--since",
        "1700000000.5",
        "--until",
        "2023-11-14T22:13:21Z",
        "web",
    )
    assert code == 0
    req = daemon.asked(pb.LogsRequest)[-1]
    assert req.follow and req.tail == 5 and req.stdout and req.stderr
    assert (req.since.seconds, req.since.nanos) == (1_700_000_000, 500_000_000)
    assert req.until.seconds == 1_700_000_001
    daemon.run("logs", "-n", "all", "web")
    assert daemon.asked(pb.LogsRequest)[-1].tail == -1
    assert not daemon.asked(pb.LogsRequest)[-1].HasField("since")
    daemon.run("logs", "--since", "10m", "web")
    since = daemon.asked(pb.LogsRequest)[-1].since.seconds
    assert 0 < datetime.now(UTC).timestamp() - since < 3600


def test_logs_errors(daemon: Daemon) -> None:
    code, _, err = daemon.run("logs", "nope")
    assert (code, err) == (1, "Error: No such container: nope\n")
    daemon.state.add("web")
    code, _, err = daemon.run("logs", "--since", "soon", "web")
    assert code == 1
    assert err == (
        "invalid value for \"since\": failed to parse value as time or duration: 'soon'\n"
    )


@pytest.mark.parametrize(("text", "n"), [("all", -1), ("0", 0), ("10", 10), ("x", -1), ("-3", -1)])
def test_tail_as_dockers_daemon_reads_it(text: str, n: int) -> None:
    assert containers.tail_lines(text) == n


# --- wait, stop, restart, kill, rm, pause, unpause, rename ---------------------------------


def test_wait_prints_exit_codes_and_errors_last(daemon: Daemon) -> None:
    daemon.state.add("a")
    daemon.state.exit = pb.ExitStatus(exit_code=42, started=True)
    code, out, err = daemon.run("wait", "a", "nope", "a")
    assert (code, out) == (1, "42\n42\n")
    assert err == "Error response from daemon: No such container: nope\n"


@pytest.mark.parametrize("command", ["stop", "restart", "kill", "pause", "unpause"])
def test_multi_target_commands_print_names_and_continue(daemon: Daemon, command: str) -> None:
    daemon.state.add("a")
    daemon.state.add("b")
    code, out, err = daemon.run(command, "a", "nope", "b")
    assert (code, out) == (1, "a\nb\n")
    assert err == "Error response from daemon: No such container: nope\n"
    code, out, err = daemon.run("container", command, "b")
    assert (code, out, err) == (0, "b\n", "")


def test_stop_and_kill_requests(daemon: Daemon) -> None:
    daemon.state.add("a")
    daemon.run("stop", "a")
    daemon.run("stop", "-t", "3", "a")
    daemon.run("restart", "--time", "0", "a")
    stops = daemon.asked(pb.StopContainerRequest)
    assert not stops[0].HasField("timeout")
    assert (stops[1].timeout, stops[2].timeout) == (3, 0)
    daemon.run("kill", "a")
    daemon.run("kill", "-s", "HUP", "a")
    assert [k.signal for k in daemon.asked(pb.KillContainerRequest)] == ["KILL", "HUP"]


def test_rm_wording_force_and_volumes(daemon: Daemon) -> None:
    running = daemon.state.add("busy")
    running.running = True
    daemon.state.add("idle")
    code, out, err = daemon.run("rm", "nope", "busy", "idle")
    assert (code, out) == (1, "idle\n")
    assert err == (
        "Error: No such container: nope\n"
        f"Error response from daemon: You cannot remove a running container {running.id}. "
        "Stop the container before attempting removal or force remove\n"
    )
    code, out, err = daemon.run("rm", "-f", "-v", "busy", "nope")
    assert (code, out, err) == (0, "busy\n", "Error: No such container: nope\n")
    last = daemon.asked(pb.RemoveContainerRequest)[-2]
    assert last.force and last.volumes
    code, _, err = daemon.run("rm", "/")
    assert (code, err) == (1, "Container name cannot be empty\n")


def test_rename(daemon: Daemon) -> None:
    daemon.state.add("old")
    assert daemon.run("rename", "old", "new") == (0, "", "")
    assert daemon.asked(pb.RenameContainerRequest) == [
        pb.RenameContainerRequest(container="old", name="new")
    ]
    code, _, err = daemon.run("rename", "gone", "x")
    assert code == 1
    assert err == (
        "Error response from daemon: No such container: gone\n"
        "Error: failed to rename container named gone\n"
    )
    code, _, err = daemon.run("container", "rename", " ", "x")
    assert (code, err) == (1, "Error: Neither old nor new names may be empty\n")


# --- top, prune ----------------------------------------------------------------------------


def test_top_passes_ps_args_and_prints_a_table(daemon: Daemon) -> None:
    daemon.state.add("web")
    code, out, _ = daemon.run("top", "web", "-o", "pid,comm")
    assert code == 0
    assert daemon.asked(pb.TopRequest)[-1].ps_args == ["-o", "pid,comm"]
    assert out.splitlines() == [
        "UID                 PID                 PPID                C                   "
        "STIME               TTY                 TIME                CMD",
        "root                1                   0                   0                   "
        "10:00               ?                   00:00:00            sh",
    ]


def test_container_prune_asks_first(daemon: Daemon) -> None:
    code, out, _ = daemon.run("container", "prune", stdin="n\n")
    assert code == 0 and out.startswith("WARNING! This will remove all stopped containers.\n")
    assert not daemon.asked(pb.PruneContainersRequest)
    code, out, _ = daemon.run("container", "prune", "-f", "--filter", "until=1h")
    assert out == f"Deleted Containers:\n{'a' * 64}\n\nTotal reclaimed space: 2MB\n"
    assert daemon.asked(pb.PruneContainersRequest)[-1].filters == ["until=1h"]


def test_log_times_are_taken_to_the_nanosecond() -> None:
    """A time copied from `logs -t` must select the very entry it names (a float of seconds
    is off by hundreds of nanoseconds at today's epoch)."""
    from caisson.cli.containers import _log_time

    ts = _log_time("2026-11-28T01:44:12.123456789Z", "since")
    assert (ts.seconds, ts.nanos) == (1795830252, 123456789)
    ts = _log_time("2026-11-28T01:44:12.1Z", "since")
    assert (ts.seconds, ts.nanos) == (1795830252, 100000000)
    ts = _log_time("1795827358.000000001", "until")
    assert (ts.seconds, ts.nanos) == (1795827358, 1)
