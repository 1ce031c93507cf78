"""run, create and start against the fake daemon (a real gRPC server in-process)."""

from __future__ import annotations

import io

from caisson_api.daemon.v1 import containers_pb2 as pb
from caisson_api.daemon.v1 import daemon_pb2
from tests.unit import test_cli_containers_fake as fake
from tests.unit.test_cli_containers_fake import DIGEST, Daemon, container_id

daemon = fake.daemon  # the fixture

ID0 = container_id(0)


def test_run_prints_output_and_exits_with_the_containers_code(daemon: Daemon) -> None:
    daemon.state.output = [("stdout", b"hello\n"), ("stderr", b"warn\n")]
    daemon.state.exit = pb.ExitStatus(exit_code=3, started=True)
    code, out, err = daemon.run("run", "--name", "web", "busybox", "sh", "-c", "echo hello")
    assert (code, out, err) == (3, "hello\n", "warn\n")
    create = daemon.asked(pb.CreateContainerRequest)[0]
    assert create.name == "web" and list(create.config.cmd.values) == ["sh", "-c", "echo hello"]
    (attach,) = daemon.asked(pb.AttachRequest)
    assert attach.open == pb.AttachOpen(container=ID0, stdout=True, stderr=True, start=True)
    assert not daemon.asked(pb.ContainerRef)  # attach starts it: no separate Start


def test_run_pulls_a_missing_image_then_creates_again(daemon: Daemon) -> None:
    code, out, err = daemon.run("run", "alpine")
    assert (code, out) == (0, "")
    assert err.splitlines() == [
        "Unable to find image 'alpine:latest' locally",
        "latest: Pulling from library/alpine",
        "1a1a1a1a1a1a: Pull complete",
        f"Digest: {DIGEST}",
        "Status: Downloaded newer image for alpine:latest",
    ]
    assert [r.reference for r in daemon.asked(daemon_pb2.PullRequest)] == ["alpine:latest"]
    assert len(daemon.asked(pb.CreateContainerRequest)) == 2


def test_run_quiet_pull_and_pull_policies(daemon: Daemon) -> None:
    code, _, err = daemon.run("run", "-q", "alpine:3")
    assert (code, err) == (0, "")
    code, _, err = daemon.run("run", "--pull", "never", "debian")
    assert code == 125
    assert err == (
        "caisson: Error response from daemon: No such image: debian:latest.\n"
        "See 'caisson run --help'.\n"
    )
    code, _, err = daemon.run("run", "--pull", "always", "busybox")
    assert code == 0 and "Status: Downloaded newer image for busybox:latest" in err
    assert [r.reference for r in daemon.asked(daemon_pb2.PullRequest)] == [
        "alpine:3",
        "busybox:latest",
    ]


def test_run_of_an_image_that_cannot_be_pulled_exits_125(daemon: Daemon) -> None:
    daemon.state.pull_fails = "pull access denied for nosuch, repository does not exist"
    code, out, err = daemon.run("run", "nosuch")
    assert (code, out) == (125, "")
    assert err == (
        "Unable to find image 'nosuch:latest' locally\n"
        "caisson: Error response from daemon: pull access denied for nosuch, repository does "
        "not exist.\nSee 'caisson run --help'.\n"
    )


def test_run_by_image_id_never_pulls(daemon: Daemon) -> None:
    code, _, err = daemon.run("run", "ab" * 32)
    assert code == 125 and "No such image" in err
    assert not daemon.asked(daemon_pb2.PullRequest)


def test_a_command_that_cannot_start_exits_127_with_the_error(daemon: Daemon) -> None:
    daemon.state.exit = pb.ExitStatus(
        exit_code=127,
        started=False,
        error='exec: "nosuch": executable file not found in $PATH',
    )
    code, out, err = daemon.run("run", "busybox", "nosuch")
    assert (code, out) == (127, "")
    assert err == (
        'caisson: Error response from daemon: exec: "nosuch": executable file not found in $PATH.\n'
    )


def test_run_detached_prints_the_id_and_starts(daemon: Daemon) -> None:
    code, out, err = daemon.run("run", "-d", "--rm", "busybox", "sleep", "9")
    assert (code, out, err) == (0, ID0 + "\n", "")
    create = daemon.asked(pb.CreateContainerRequest)[0]
    c = create.config
    assert not (c.attach_stdin or c.attach_stdout or c.attach_stderr or c.stdin_once)
    assert create.host_config.auto_remove
    assert daemon.asked(pb.ContainerRef) == [pb.ContainerRef(container=ID0)]
    assert not daemon.asked(pb.AttachRequest)


def test_run_detached_start_failure_maps_the_exit_code(daemon: Daemon) -> None:
    daemon.state.start_error = "exec: /etc: permission denied"
    code, out, err = daemon.run("run", "-d", "busybox", "/etc")
    assert (code, out) == (126, ID0 + "\n")
    assert err == "caisson: Error response from daemon: exec: /etc: permission denied.\n"


def test_run_detach_conflicts_with_attach(daemon: Daemon) -> None:
    code, _, err = daemon.run("run", "-d", "-a", "stdout", "busybox")
    assert (code, err) == (1, "Conflicting options: -a and -d\n")


def test_run_interactive_forwards_stdin_and_closes_it_at_eof(daemon: Daemon) -> None:
    daemon.state.echo = True
    code, out, _ = daemon.run("run", "-i", "busybox", "cat", stdin="line one\nline two\n")
    assert code == 0 and out == "line one\nline two\n"
    assert b"".join(daemon.state.stdin) == b"line one\nline two\n"
    assert daemon.state.stdin_closed.is_set()
    (attach,) = daemon.asked(pb.AttachRequest)
    assert attach.open.stdin and attach.open.stdout and attach.open.stderr
    create = daemon.asked(pb.CreateContainerRequest)[0]
    assert create.config.open_stdin and create.config.stdin_once


def test_run_interactive_tty_needs_a_terminal(daemon: Daemon) -> None:
    code, _, err = daemon.run("run", "-it", "busybox", "sh")
    assert (code, err) == (1, "the input device is not a TTY\n")
    assert not daemon.asked(pb.CreateContainerRequest)


def test_run_writes_bytes_to_the_binary_streams(daemon: Daemon) -> None:
    from caisson.cli import app

    daemon.state.output = [("stdout", b"\xff\x00bin"), ("stderr", "é".encode()[:1])]
    daemon.state.output.append(("stderr", "é".encode()[1:]))
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8")
    err = io.TextIOWrapper(err_bytes, encoding="utf-8")
    code = app.run(
        ["-H", daemon.host, "run", "busybox"],
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
        environ={"CAISSON_CONFIG": daemon.config_dir},
    )
    assert code == 0
    assert out_bytes.getvalue() == b"\xff\x00bin"
    assert err_bytes.getvalue() == "é".encode()


def test_run_prints_the_daemons_warnings(daemon: Daemon) -> None:
    daemon.state.warnings = ["Your kernel does not support swap limit capabilities."]
    code, _, err = daemon.run("run", "-d", "busybox")
    assert code == 0
    assert err == "WARNING: Your kernel does not support swap limit capabilities.\n"


def test_create_prints_the_id_and_its_errors_exit_1(daemon: Daemon) -> None:
    code, out, err = daemon.run("create", "--name", "c1", "-t", "busybox", "top")
    assert (code, out, err) == (0, ID0 + "\n", "")
    create = daemon.asked(pb.CreateContainerRequest)[0]
    assert create.config.tty and create.config.attach_stdout
    daemon.state.pull_fails = "pull access denied for nosuch"
    code, out, err = daemon.run("create", "nosuch")
    assert (code, out) == (1, "")
    assert err == (
        "Unable to find image 'nosuch:latest' locally\n"
        "Error response from daemon: pull access denied for nosuch\n"
    )


def test_start_prints_names_and_reports_failures(daemon: Daemon) -> None:
    daemon.state.add("one")
    daemon.state.add("two")
    code, out, err = daemon.run("start", "one", "nope", "two")
    assert (code, out) == (1, "one\ntwo\n")
    assert err == (
        "Error response from daemon: No such container: nope\n"
        "Error: failed to start containers: nope\n"
    )


def test_start_attach_streams_and_returns_the_exit_code(daemon: Daemon) -> None:
    daemon.state.add("c", open_stdin=True)
    daemon.state.output = [("stdout", b"out\n")]
    daemon.state.exit = pb.ExitStatus(exit_code=7, started=True)
    code, out, err = daemon.run("start", "-a", "c")
    assert (code, out, err) == (7, "out\n", "")
    (attach,) = daemon.asked(pb.AttachRequest)
    assert attach.open == pb.AttachOpen(container="c", stdout=True, stderr=True, start=True)
    daemon.state.echo = True
    code, out, _ = daemon.run("start", "-i", "c", stdin="typed\n")
    assert out == "out\ntyped\n"
    assert daemon.asked(pb.AttachRequest)[-1].open.stdin


def test_start_attach_failures(daemon: Daemon) -> None:
    code, _, err = daemon.run("start", "-a", "nope")
    assert (code, err) == (1, "Error: No such container: nope\n")
    daemon.state.add("a")
    daemon.state.add("b")
    code, _, err = daemon.run("start", "-a", "a", "b")
    assert (code, err) == (1, "you cannot start and attach multiple containers at once\n")
    daemon.state.exit = pb.ExitStatus(exit_code=127, error="exec: nope: not found")
    code, _, err = daemon.run("start", "-a", "a")
    assert (code, err) == (127, "Error response from daemon: exec: nope: not found\n")


def test_container_group_has_run_create_start(daemon: Daemon) -> None:
    code, out, _ = daemon.run("container", "create", "busybox")
    assert (code, out) == (0, ID0 + "\n")
    code, out, _ = daemon.run("container", "start", ID0[:12])
    assert (code, out) == (0, ID0[:12] + "\n")
    code, out, _ = daemon.run("container", "run", "-d", "busybox")
    assert code == 0 and len(out.strip()) == 64
