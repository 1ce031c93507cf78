"""`caisson run` end to end with real containers: CLI -> daemon -> executor -> monitor ->
container init, in real namespaces, from an image pulled from the test registry. Each test
checks that its containers leave no mount, cgroup or monitor behind."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.expect import fails, ok
from tests.support.images import RUN_VOLUME_FILE
from tests.support.processes import public_tempdir, remove_tree, wait_for
from tests.support.services import CliResult, Daemon, venv_bin

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]

# docker's default capability set as /proc/PID/status shows it.
DEFAULT_CAP_MASK = "00000000a80425fb"


def run(d: Daemon, *args: str, **kw: object) -> CliResult:
    return d.cli("run", *args, **kw)  # type: ignore[arg-type]


# --- the basics ----------------------------------------------------------------------------


def test_run_prints_the_output_and_exits_with_the_process_code(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", image, "echo", "hello", "world"))
    assert r.out == "hello world\n", r
    r = run(runner, "--rm", image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.code == 3, r
    assert r.out == "out\n" and r.err == "err\n", r
    assert ok(runner.cli("ps", "-aq")).out == "", "--rm left the container"


def test_exit_codes_for_commands_that_cannot_run(runner: Daemon, image: str) -> None:
    r = run(runner, "--rm", image, "no-such-command")
    assert r.code == 127, r
    assert 'exec: "no-such-command": executable file not found in $PATH' in r.err, r
    r = run(runner, "--rm", image, "/etc")
    assert r.code == 126, r
    assert "permission denied" in r.err, r
    # PID 1 cannot be killed from inside its namespace; a child can, and the shell reports it.
    r = run(runner, "--rm", image, "sh", "-c", "sleep 10 & kill -9 $!; wait $!")
    assert r.code == 137, r


def test_caisson_failures_exit_125(runner: Daemon, image: str) -> None:
    r = run(runner, "--rm", "--no-such-flag", image, "true")
    assert r.code == 125, r
    r = run(runner, "--rm", "127.0.0.1:1/nothing/here:latest", "true")
    assert r.code == 125, r
    r = run(runner, "--rm", "--memory", "1k", image, "true")
    assert r.code == 125, r
    assert "Minimum memory limit allowed is 6MB" in r.err, r


def test_detached_run_logs_stop_and_remove(runner: Daemon, image: str) -> None:
    cid = ok(
        run(
            runner,
            "-d",
            "--name",
            "counter",
            image,
            "sh",
            "-c",
            "i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done",
        )
    ).out.strip()
    assert len(cid) == 64, cid
    wait_for(lambda: "3\n" in runner.cli("logs", "counter").out, 10, what="output")
    rows = ok(runner.cli("ps", "--format", "{{.ID}} {{.Names}} {{.State}}")).out.split("\n")
    assert f"{cid[:12]} counter running" in rows, rows
    # sh as PID 1 ignores SIGTERM (no handler): stop waits, then kills.
    ok(runner.cli("stop", "-t", "1", "counter"))
    doc = json.loads(ok(runner.cli("inspect", "counter")).out)[0]
    assert doc["State"]["Status"] == "exited", doc["State"]
    assert doc["State"]["ExitCode"] == 137, doc["State"]
    assert ok(runner.cli("rm", "counter")).out.strip() == "counter"
    fails(runner.cli("container", "inspect", "counter"), "No such container: counter")
    fails(runner.cli("inspect", "counter"), "No such object: counter")


def test_isolation(runner: Daemon, image: str) -> None:
    script = (
        "echo pid=$$; hostname; grep CapEff /proc/self/status; "
        "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; "
        "stat -c %t,%T /proc/keys; "
        "touch /sys/x 2>/dev/null || echo sys-ro; mount | grep ' / ' | cut -d' ' -f1,5"
    )
    r = ok(run(runner, "--name", "iso", image, "sh", "-c", script))
    lines = r.out.split("\n")
    cid = json.loads(ok(runner.cli("inspect", "iso")).out)[0]["Id"]
    assert lines[0] == "pid=1", r
    assert lines[1] == cid[:12], r
    assert lines[2].split() == ["CapEff:", DEFAULT_CAP_MASK], r
    assert lines[3:5] == ["lo", "eth0"], r  # its own namespace on the default bridge
    assert lines[5] == "1,3", r  # /proc/keys masked by /dev/null (char 1,3)
    assert "sys-ro" in lines, r
    assert "overlay overlay" in r.out, r


def test_env_workdir_user(runner: Daemon, image: str) -> None:
    r = ok(
        run(
            runner,
            "--rm",
            "-e",
            "FOO=bar",
            "-w",
            "/made/here",
            "-u",
            "app",
            image,
            "sh",
            "-c",
            "echo $FOO; pwd; id; echo $HOME",
        )
    )
    assert r.out.split("\n")[:4] == [
        "bar",
        "/made/here",
        "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)",
        "/home/app",
    ], r
    r = ok(run(runner, "--rm", "-u", "1234:5678", image, "id"))
    assert r.out.strip() == "uid=1234 gid=5678 groups=5678", r
    r = run(runner, "--rm", "-u", "nosuchuser", image, "id")
    assert r.code != 0 and "unable to find user nosuchuser" in r.err, r


def test_entrypoint_resets_cmd(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", "--entrypoint", "echo", image))
    assert r.out == "\n", r
    r = ok(run(runner, "--rm", "--entrypoint", "echo", image, "a", "b"))
    assert r.out == "a b\n", r


def test_read_only_rootfs_and_tmpfs(runner: Daemon, image: str) -> None:
    r = run(
        runner,
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        image,
        "sh",
        "-c",
        "touch /x || echo ro; touch /scratch/y && echo tmpfs-ok",
    )
    assert r.out.split() == ["ro", "tmpfs-ok"], r


def test_bind_and_named_volumes(runner: Daemon, image: str) -> None:
    host = public_tempdir("caisson-bind-")
    try:
        with open(os.path.join(host, "in.txt"), "w") as f:
            f.write("from host\n")
        r = ok(
            run(
                runner,
                "--rm",
                "-v",
                f"{host}:/mnt",
                image,
                "sh",
                "-c",
                "cat /mnt/in.txt; echo back > /mnt/out.txt",
            )
        )
        assert r.out == "from host\n", r
        with open(os.path.join(host, "out.txt")) as f:
            assert f.read() == "back\n"
        r = run(runner, "--rm", "-v", f"{host}:/mnt:ro", image, "touch", "/mnt/x")
        assert r.code != 0, r
    finally:
        remove_tree(host)
    # A new named volume is seeded with the image's content at the mount point.
    r = ok(run(runner, "--rm", "-v", "seeded:/data", image, "cat", "/" + RUN_VOLUME_FILE[0]))
    assert r.out.encode() == RUN_VOLUME_FILE[1], r
    ok(run(runner, "--rm", "-v", "seeded:/data", image, "sh", "-c", "echo kept > /data/new"))
    r = ok(run(runner, "--rm", "-v", "seeded:/data", image, "cat", "/data/new"))
    assert r.out == "kept\n", r
    assert "seeded" in ok(runner.cli("volume", "ls", "-q")).out.split()
    ok(runner.cli("volume", "rm", "seeded"))


def test_oom_kill_is_reported(runner: Daemon, image: str) -> None:
    r = run(
        runner,
        "--name",
        "oom",
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        image,
        "sh",
        "-c",
        "x=a; while :; do x=$x$x; done",
    )
    assert r.code == 137, r
    doc = json.loads(ok(runner.cli("inspect", "oom")).out)[0]
    assert doc["State"]["OOMKilled"] is True, doc["State"]


def test_pids_limit_stops_a_fork_loop(runner: Daemon, image: str) -> None:
    loop = "for i in $(seq 30); do sleep 1 & done; echo all-forked"
    r = run(runner, "--rm", "--pids-limit", "10", image, "sh", "-c", loop)
    assert r.code != 0 and "all-forked" not in r.out, r
    assert "can't fork" in r.err, r
    r = ok(run(runner, "--rm", image, "sh", "-c", loop))
    assert "all-forked" in r.out, r


def test_exec_into_a_running_container(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "target", "-e", "IN=ctr", image, "sleep", "60"))
    r = ok(
        runner.cli(
            "exec", "target", "sh", "-c", "echo $IN; hostname; cat /proc/1/cmdline | tr '\\0' ' '"
        )
    )
    lines = r.out.split("\n")
    assert lines[0] == "ctr", r
    assert lines[2].strip() == "sleep 60", r
    r = runner.cli("exec", "target", "sh", "-c", "exit 7")
    assert r.code == 7, r
    r = ok(runner.cli("exec", "-u", "app", "-w", "/tmp", "target", "sh", "-c", "id -u; pwd"))
    assert r.out.split() == ["1000", "/tmp"], r
    r = runner.cli("exec", "target", "no-such-command")
    assert r.code == 127, r
    ok(runner.cli("rm", "-f", "target"))


def test_stdin_is_forwarded(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", "-i", image, "sh", "-c", "cat; echo done", input="piped\n"))
    assert r.out == "piped\ndone\n", r


def test_unknown_container_errors(runner: Daemon) -> None:
    for cmd in (
        ["stop"],
        ["rm"],
        ["kill"],
        ["logs"],
        ["container", "inspect"],
        ["start"],
        ["wait"],
    ):
        r = runner.cli(*cmd, "nope-nothing")
        assert r.code == 1, r
        assert "No such container: nope-nothing" in r.err, r


def test_restart_policies(runner: Daemon, image: str) -> None:
    ok(
        run(
            runner,
            "-d",
            "--name",
            "fails",
            "--restart",
            "on-failure:2",
            image,
            "sh",
            "-c",
            "exit 1",
        )
    )

    def state(name: str) -> dict[str, object]:
        doc = json.loads(ok(runner.cli("inspect", name)).out)[0]
        return {"Status": doc["State"]["Status"], "RestartCount": doc["RestartCount"]}

    wait_for(
        lambda: state("fails") == {"Status": "exited", "RestartCount": 2}, 20, what="2 retries"
    )
    # A clean exit is not a failure: no restart.
    ok(run(runner, "-d", "--name", "clean", "--restart", "on-failure", image, "true"))
    ok(runner.cli("wait", "clean"))
    assert state("clean") == {"Status": "exited", "RestartCount": 0}
    # always: started again after each exit, until stopped by hand.
    ok(run(runner, "-d", "--name", "again", "--restart", "always", image, "sh", "-c", "sleep 0.2"))
    wait_for(lambda: int(state("again")["RestartCount"]) >= 2, 20, what="restarts")  # type: ignore[call-overload]
    ok(runner.cli("stop", "-t", "1", "again"))
    count = state("again")["RestartCount"]
    wait_for(lambda: state("again")["Status"] == "exited", 10, what="the stop")
    import time

    time.sleep(1)
    assert state("again") == {"Status": "exited", "RestartCount": count}


def test_devices_cgroup_keeps_host_devices_out(runner: Daemon, image: str) -> None:
    """CAP_MKNOD is a default capability: the devices cgroup is what stops a container from
    making a node for a host device (a disk, here the readable cpu_dma_latency) and opening it
    (docker's allow-list); --privileged may."""
    dev = os.stat("/dev/cpu_dma_latency")
    major, minor = os.major(dev.st_rdev), os.minor(dev.st_rdev)
    script = f"mknod /tmp/dev c {major} {minor} && head -c 4 /tmp/dev >/dev/null && echo read"
    r = run(runner, "--rm", image, "sh", "-c", script)
    assert r.code != 0 and "read" not in r.out, r
    assert "Operation not permitted" in r.err, r
    r = run(runner, "--rm", "--privileged", image, "sh", "-c", script)
    assert r.out.strip() == "read", r


def test_detach_keys_leave_the_container_running(runner: Daemon, image: str) -> None:
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the CLI on the pty
        os.environ.update(runner.env())
        os.execv(
            venv_bin("caisson"),
            ["caisson", "-H", runner.host, "run", "-it", "--name", "detached", image, "sh"],
        )
    out = b""

    def read_until(needle: bytes, timeout: float = 10.0) -> None:
        nonlocal out
        end = time.monotonic() + timeout
        while needle not in out and time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    read_until(b"# ")
    os.write(fd, b"echo $((6*7))\r")
    read_until(b"42")
    os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    doc = json.loads(ok(runner.cli("inspect", "detached")).out)[0]
    assert doc["State"]["Status"] == "running", doc["State"]
    ok(runner.cli("rm", "-f", "detached"))
