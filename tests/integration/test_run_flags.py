"""Every `run` flag of issue 3's section 2 that test_run.py does not cover, and the container
commands around `run`, with real containers: each test asserts what docker shows for the same
command line (exit codes, output, inspect fields, files the kernel shows inside).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import socket
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

import pytest

from tests.support.expect import ok
from tests.support.processes import public_tempdir, remove_tree, stop_process, wait_for
from tests.support.services import CliResult, Daemon, venv_bin

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]

DEFAULT_CAPS = 0x00000000A80425FB
CAP_CHOWN = 0
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
# A counter that prints one number every 0.1 s, forever.
COUNTER = "i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done"
# A PID 1 that waits in short sleeps, so a trapped signal runs its handler soon.
LOOP = "while :; do sleep 0.1; done"


def run(d: Daemon, *args: str, **kw: object) -> CliResult:
    return d.cli("run", *args, **kw)  # type: ignore[arg-type]


def inspect(d: Daemon, name: str) -> dict:  # type: ignore[type-arg]
    docs = json.loads(ok(d.cli("inspect", name)).out)
    assert isinstance(docs, list) and len(docs) == 1
    return dict(docs[0])


def status_field(d: Daemon, name: str, key: str) -> dict:  # type: ignore[type-arg]
    doc = inspect(d, name)[key]
    assert isinstance(doc, dict)
    return doc


def lines(r: CliResult) -> list[str]:
    return r.out.splitlines()


def caps_of(text: str, field: str = "CapEff") -> int:
    m = re.search(rf"^{field}:\s*([0-9a-f]+)$", text, re.M)
    assert m, text
    return int(m.group(1), 16)


def proc_status(text: str, field: str) -> str:
    m = re.search(rf"^{field}:\s*(\S+)$", text, re.M)
    assert m, text
    return m.group(1)


def host_cap_bounding() -> int:
    with open("/proc/self/status") as f:
        return caps_of(f.read(), "CapBnd")


# --- a real terminal -----------------------------------------------------------------------


def _controlling_terminal() -> None:
    """In the child: a session of its own with the pty (its stdin) as controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@dataclass
class PtyRun:
    code: int
    out: str  # everything the terminal showed, \r\n line ends included


def run_in_pty(
    d: Daemon,
    *args: str,
    size: tuple[int, int] = (24, 80),
    send: list[tuple[str, str | tuple[int, int]]] | None = None,
    timeout: float = 60.0,
) -> PtyRun:
    """`caisson ARGS` with stdin, stdout and stderr on the slave side of a new pty of `size`
    (rows, cols), the CLI's controlling terminal. `send` holds steps played in order:
    (wait-for-text, text-to-type) or (wait-for-text, (rows, cols)) to resize the window."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen(
        [venv_bin("caisson"), "-H", d.host, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=d.env(),
        cwd=d.base,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    steps = list(send or [])
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            while steps and steps[0][0].encode() in out:
                action = steps.pop(0)[1]
                if isinstance(action, str):
                    os.write(master, action.encode())
                else:  # the kernel sends SIGWINCH to the CLI, whose terminal this is
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", *action, 0, 0))
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            stop_process(proc, 5)
        os.close(master)
    return PtyRun(code, out.decode(errors="replace"))


# --- image config merged with flags --------------------------------------------------------


def test_entrypoint_with_args_and_inspect(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--name", "ep", "--entrypoint", "sh", image, "-c", 'echo "$0|$1"', "a", "b"))
    assert r.out == "a|b\n", r
    config = status_field(runner, "ep", "Config")
    assert config["Entrypoint"] == ["sh"], config
    assert config["Cmd"] == ["-c", 'echo "$0|$1"', "a", "b"], config
    doc = inspect(runner, "ep")
    assert doc["Path"] == "sh" and doc["Args"] == ["-c", 'echo "$0|$1"', "a", "b"], doc
    # An empty --entrypoint clears the image's; the command runs as given.
    r = ok(run(runner, "--rm", "--entrypoint", "", image, "echo", "plain"))
    assert r.out == "plain\n", r


def test_env_flags_env_file_and_client_env(runner: Daemon, image: str) -> None:
    d = public_tempdir("caisson-envfile-")
    try:
        env_file = os.path.join(d, "env.list")
        with open(env_file, "w") as f:
            f.write("# a comment\n\nFROM_FILE=file value\nPASSED_FROM_CLIENT\nNOT_IN_CLIENT\n")
        r = ok(
            run(
                runner,
                "--rm",
                "-e",
                "A=1",
                "-e",
                "FROM_CLIENT",
                "-e",
                "UNSET_IN_CLIENT",
                "-e",
                "EMPTY=",
                "--env-file",
                env_file,
                image,
                "env",
                env={"FROM_CLIENT": "client value", "PASSED_FROM_CLIENT": "also"},
            )
        )
    finally:
        remove_tree(d)
    env = dict(line.split("=", 1) for line in lines(r))
    assert env["A"] == "1", r
    assert env["FROM_CLIENT"] == "client value", r
    assert env["FROM_FILE"] == "file value", r
    assert env["PASSED_FROM_CLIENT"] == "also", r
    assert env["EMPTY"] == "", r
    # docker drops a bare KEY the client's environment does not have.
    assert "UNSET_IN_CLIENT" not in env and "NOT_IN_CLIENT" not in env, r
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", r
    assert env["HOME"] == "/root", r
    assert re.fullmatch(r"[0-9a-f]{12}", env["HOSTNAME"]), r


def test_workdir_is_created_owned_by_root(runner: Daemon, image: str) -> None:
    r = ok(
        run(
            runner,
            "--rm",
            "-u",
            "app",
            "-w",
            "/new/dir",
            image,
            "sh",
            "-c",
            "pwd; stat -c '%U %a' /new/dir",
        )
    )
    assert lines(r) == ["/new/dir", "root 755"], r


def test_user_and_group_names_supplementary_groups_and_group_add(
    runner: Daemon, image: str
) -> None:
    # An explicit group: no supplementary groups from /etc/group (runc's GetExecUser).
    r = ok(run(runner, "--rm", "-u", "app:nogroup", image, "id"))
    assert r.out.strip() == "uid=1000(app) gid=65534(nogroup) groups=65534(nogroup)", r
    r = ok(run(runner, "--rm", "-u", "1000", image, "id"))
    assert r.out.strip() == "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)", r
    r = ok(run(runner, "--rm", "--group-add", "nogroup", "--group-add", "4242", image, "id"))
    assert r.out.strip() == ("uid=0(root) gid=0(root) groups=0(root),4242,65534(nogroup)"), r
    r = run(runner, "--rm", "--group-add", "nosuchgroup", image, "id")
    assert r.code == 125, r
    assert r.err.startswith(
        "caisson: Error response from daemon: Unable to find group nosuchgroup: "
        "no matching entries in group file."
    ), r
    r = run(runner, "--rm", "-u", "app:nosuchgroup", image, "id")
    assert r.code == 125, r
    assert r.err.startswith(
        "caisson: Error response from daemon: unable to find group nosuchgroup: "
        "no matching entries in group file."
    ), r


# --- stop signal and timeout ---------------------------------------------------------------


def test_stop_signal_reaches_a_trapping_process(runner: Daemon, image: str) -> None:
    script = f'trap "echo got-usr1; exit 5" USR1; echo ready; {LOOP}'
    ok(run(runner, "-d", "--name", "sig", "--stop-signal", "SIGUSR1", image, "sh", "-c", script))
    wait_for(lambda: "ready" in runner.cli("logs", "sig").out, 15, what="the trap")
    assert status_field(runner, "sig", "Config")["StopSignal"] == "SIGUSR1"
    ok(runner.cli("stop", "sig"))
    assert ok(runner.cli("logs", "sig")).out == "ready\ngot-usr1\n"
    assert status_field(runner, "sig", "State")["ExitCode"] == 5
    # The default stop signal is SIGTERM: a shell that traps it exits through its handler.
    script = f'trap "echo got-term; exit 0" TERM; echo ready; {LOOP}'
    ok(run(runner, "-d", "--name", "term", image, "sh", "-c", script))
    wait_for(lambda: "ready" in runner.cli("logs", "term").out, 15, what="the trap")
    ok(runner.cli("stop", "term"))
    assert ok(runner.cli("logs", "term")).out == "ready\ngot-term\n"
    assert status_field(runner, "term", "State")["ExitCode"] == 0


def test_stop_timeout_then_kill(runner: Daemon, image: str) -> None:
    script = f'trap "" TERM; echo ready; {LOOP}'
    ok(run(runner, "-d", "--name", "deaf", "--stop-timeout", "1", image, "sh", "-c", script))
    assert status_field(runner, "deaf", "Config")["StopTimeout"] == 1
    wait_for(lambda: "ready" in runner.cli("logs", "deaf").out, 15, what="the trap")
    ok(runner.cli("stop", "deaf"))
    state = status_field(runner, "deaf", "State")
    assert state["Status"] == "exited" and state["ExitCode"] == 137, state


# --- -d, --rm, -i --------------------------------------------------------------------------


def test_detach_prints_the_id_and_rm_removes_after_exit(runner: Daemon, image: str) -> None:
    cid = ok(run(runner, "-d", "--name", "det", image, "sleep", "60")).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    state = status_field(runner, "det", "State")
    assert state["Running"] is True and state["Pid"] > 0, state
    ok(runner.cli("rm", "-f", "det"))
    # --rm with -d: the container is gone once it has exited.
    cid = ok(run(runner, "-d", "--rm", image, "sh", "-c", "sleep 0.3")).out.strip()
    wait_for(lambda: cid not in runner.cli("ps", "-aq", "--no-trunc").out, 30, what="--rm removal")
    r = runner.cli("inspect", cid)
    assert r.code == 1 and f"No such object: {cid}" in r.err, r
    # Attached --rm: gone when run returns.
    ok(run(runner, "--rm", "--name", "gone", image, "true"))
    assert runner.cli("container", "inspect", "gone").code == 1


def test_stdin_only_with_interactive(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", image, "sh", "-c", "cat; echo end", input="not forwarded\n"))
    assert r.out == "end\n", r
    r = ok(run(runner, "--rm", "-i", image, "wc", "-l", input="a\nb\nc\n"))
    assert r.out.strip() == "3", r


# --- -t through a real pty -----------------------------------------------------------------


def test_tty_is_a_pts_of_the_container(runner: Daemon, image: str) -> None:
    r = run_in_pty(runner, "run", "--rm", "-it", image, "sh", "-c", "tty; ls /dev/pts")
    assert r.code == 0, r
    out = r.out.replace("\r\n", "\n").split("\n")
    assert re.fullmatch(r"/dev/pts/\d+", out[0]), r
    assert out[0].removeprefix("/dev/pts/") in out[1].split(), r


# Waits (a bounded loop) until the pty has a size, then prints it: docker's CLI resizes the
# container's terminal just after the start, so the first instant may see 0x0.
SHOW_SIZE = (
    "i=0; while [ $i -lt 100 ]; do s=$(stty size 2>/dev/null); "
    '[ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; i=$((i+1)); done; echo "size:$s"'
)


def test_run_tty_has_the_terminal_size(runner: Daemon, image: str) -> None:
    r = run_in_pty(runner, "run", "--rm", "-it", image, "sh", "-c", SHOW_SIZE, size=(33, 101))
    assert r.code == 0, r
    assert "size:33 101\r\n" in r.out, r


def test_exec_tty_has_the_terminal_size(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "sized", image, "sleep", "60"))
    r = run_in_pty(runner, "exec", "-it", "sized", "sh", "-c", SHOW_SIZE, size=(40, 120))
    assert r.code == 0, r
    assert "size:40 120\r\n" in r.out, r


def test_tty_follows_a_resize(runner: Daemon, image: str) -> None:
    script = (
        "echo ready; read x; i=0; while [ $i -lt 100 ]; do "
        '[ "$(stty size)" = "50 150" ] && break; sleep 0.1; i=$((i+1)); done; stty size'
    )
    r = run_in_pty(
        runner,
        "run",
        "--rm",
        "-it",
        image,
        "sh",
        "-c",
        script,
        send=[("ready", (50, 150)), ("ready", "go\r")],
    )
    assert r.code == 0, r
    assert r.out.replace("\r\n", "\n").split("\n")[-2] == "50 150", r


def test_tty_echoes_input_and_converts_line_ends(runner: Daemon, image: str) -> None:
    r = run_in_pty(
        runner,
        "run",
        "--rm",
        "-it",
        image,
        "sh",
        "-c",
        "echo ready; read x; echo got:$x; exit 3",
        send=[("ready", "hello\r")],
    )
    assert r.code == 3, r
    # The container's terminal echoes what is typed; its output ends lines with \r\n.
    assert "ready\r\nhello\r\ngot:hello\r\n" in r.out, r


def test_tty_without_a_terminal_is_refused(runner: Daemon, image: str) -> None:
    r = run(runner, "--rm", "-it", image, "true", input="")
    assert r.code == 1, r
    assert "the input device is not a TTY" in r.err, r
    # -t alone needs no terminal: the output comes through the container's pty.
    r = ok(run(runner, "--rm", "-t", image, "sh", "-c", "echo x; test -t 0 && echo tty"))
    assert r.out == "x\ntty\n", r  # (text mode reads the pty's \r\n as \n)


# --- --init --------------------------------------------------------------------------------


def test_init_is_pid_1(runner: Daemon, image: str) -> None:
    r = ok(
        run(
            runner,
            "--rm",
            "--init",
            image,
            "sh",
            "-c",
            "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$",
        )
    )
    assert (
        lines(r)[0].strip()
        == "/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$"
    ), r
    assert lines(r)[1] != "1", r
    assert inspect_init(runner, image)


def inspect_init(d: Daemon, image: str) -> bool:
    ok(d.cli("create", "--name", "withinit", "--init", image, "true"))
    host_config = status_field(d, "withinit", "HostConfig")
    ok(d.cli("rm", "withinit"))
    return host_config["Init"] is True


def test_init_reaps_orphaned_zombies(runner: Daemon, image: str) -> None:
    # The grandchild sleeps are orphaned to PID 1 and exit; an init reaps them.
    script = (
        "sh -c 'sleep 0.2 & sleep 0.2 & exit 0'; sleep 1; "
        "for f in /proc/[0-9]*/stat; do cut -d' ' -f3 $f; done | grep -c Z || true"
    )
    r = ok(run(runner, "--rm", "--init", image, "sh", "-c", script))
    assert r.out.strip() == "0", r


def test_init_forwards_the_stop_signal(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "tini", "--init", image, "sleep", "60"))
    ok(runner.cli("stop", "-t", "30", "tini"))
    # sleep is not PID 1, so SIGTERM's default action ends it: 128 + 15, no kill needed.
    assert status_field(runner, "tini", "State")["ExitCode"] == 143


# --- identity, labels ----------------------------------------------------------------------


def test_hostname(runner: Daemon, image: str) -> None:
    r = ok(
        run(
            runner,
            "--rm",
            "--hostname",
            "box.example",
            image,
            "sh",
            "-c",
            "hostname; cat /etc/hostname",
        )
    )
    assert lines(r) == ["box.example", "box.example"], r


def test_labels_in_inspect_and_ps_filter(runner: Daemon, image: str) -> None:
    d = public_tempdir("caisson-labels-")
    try:
        path = os.path.join(d, "labels")
        with open(path, "w") as f:
            f.write("from.file=yes\n")
        ok(
            runner.cli(
                "create",
                "--name",
                "lab",
                "--label",
                "a=b",
                "--label",
                "bare",
                "--label-file",
                path,
                image,
            )
        )
    finally:
        remove_tree(d)
    ok(runner.cli("create", "--name", "other", image))
    labels = status_field(runner, "lab", "Config")["Labels"]
    assert labels == {"a": "b", "bare": "", "from.file": "yes", "org.caisson.test": "run"}, labels
    ps = ["ps", "-a", "--format", "{{.Names}}"]
    assert ok(runner.cli(*ps, "--filter", "label=a=b")).out == "lab\n"
    assert ok(runner.cli(*ps, "--filter", "label=bare")).out == "lab\n"
    assert ok(runner.cli(*ps, "--filter", "label=a=c")).out == ""
    assert sorted(lines(ok(runner.cli(*ps, "--filter", "label=org.caisson.test")))) == [
        "lab",
        "other",
    ]
    r = ok(runner.cli("ps", "-a", "--filter", "name=lab", "--format", "{{.Labels}}"))
    assert sorted(r.out.strip().split(",")) == [
        "a=b",
        "bare=",
        "from.file=yes",
        "org.caisson.test=run",
    ], r


# --- filesystem flags ----------------------------------------------------------------------


def test_read_only_rootfs_keeps_dev_shm_and_volumes_writable(runner: Daemon, image: str) -> None:
    script = (
        "mount | grep ' on / ' | grep -q '(ro' && echo root-ro; "
        "touch /etc/x 2>/dev/null || echo etc-ro; "
        "touch /dev/shm/x && echo shm-rw; touch /data/x && echo volume-rw"
    )
    r = ok(run(runner, "--rm", "--read-only", image, "sh", "-c", script))
    assert lines(r) == ["root-ro", "etc-ro", "shm-rw", "volume-rw"], r


def test_tmpfs_options(runner: Daemon, image: str) -> None:
    script = (
        "grep ' /scratch ' /proc/mounts; "
        "printf '#!/bin/sh\\necho ran\\n' > /scratch/s.sh; chmod +x /scratch/s.sh; "
        "/scratch/s.sh || echo noexec-refused; "
        "dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo full"
    )
    r = run(runner, "--rm", "--tmpfs", "/scratch:noexec,size=1m", image, "sh", "-c", script)
    mount = lines(r)[0].split()
    assert mount[:3] == ["tmpfs", "/scratch", "tmpfs"], r
    options = mount[3].split(",")
    assert "noexec" in options and "size=1024k" in options, r
    assert "nosuid" in options and "nodev" in options, r  # docker's defaults for --tmpfs
    assert "noexec-refused" in r.out and "full" in r.out, r
    assert "Permission denied" in r.err or "permission denied" in r.err, r


def test_shm_size(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", image, "df", "-k", "/dev/shm"))
    assert lines(r)[1].split()[1] == "65536", r
    r = ok(run(runner, "--rm", "--shm-size", "16m", image, "df", "-k", "/dev/shm"))
    assert lines(r)[1].split()[1] == "16384", r
    ok(runner.cli("create", "--name", "shm", "--shm-size", "16m", image))
    doc = status_field(runner, "shm", "HostConfig")
    assert doc["ShmSize"] == 16 * 1024 * 1024, doc


def test_ulimit(runner: Daemon, image: str) -> None:
    r = ok(
        run(
            runner,
            "--rm",
            "--ulimit",
            "nofile=1024:2048",
            image,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        )
    )
    assert lines(r) == ["1024", "2048"], r
    r = ok(run(runner, "--rm", "--ulimit", "nproc=50", image, "sh", "-c", "ulimit -u; ulimit -Hu"))
    assert lines(r) == ["50", "50"], r


def test_ulimit_above_the_hosts_hard_limit_fails_clearly(runner: Daemon, image: str) -> None:
    with open("/proc/self/limits") as f:
        hard = int(next(line for line in f if line.startswith("Max open files")).split()[4])
    r = run(runner, "--rm", "--ulimit", f"nofile={hard + 1}:{hard + 1}", image, "true")
    assert r.code == 125, r
    assert r.err == (
        "caisson: Error response from daemon: failed to start container process: "
        "error setting rlimits for ready process: error setting rlimit type 7: "
        "operation not permitted.\n"
    ), r
    r = run(runner, "--rm", "--ulimit", "nofile=2048:1024", image, "true")
    assert r.code == 125, r
    assert "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024" in r.err, r


# --- security ------------------------------------------------------------------------------


def test_cap_add_and_cap_drop(runner: Daemon, image: str) -> None:
    cmd = ("grep", "-E", "^Cap(Eff|Bnd|Prm):", "/proc/self/status")
    r = ok(run(runner, "--rm", "--cap-drop", "CHOWN", image, *cmd))
    assert caps_of(r.out) == DEFAULT_CAPS & ~(1 << CAP_CHOWN), r
    r = ok(run(runner, "--rm", "--cap-add", "SYS_ADMIN", image, *cmd))
    assert caps_of(r.out) == DEFAULT_CAPS | (1 << CAP_SYS_ADMIN), r
    assert caps_of(r.out, "CapBnd") == caps_of(r.out), r
    r = ok(run(runner, "--rm", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", image, *cmd))
    assert caps_of(r.out) == 1 << CAP_NET_ADMIN, r
    assert caps_of(r.out, "CapPrm") == 1 << CAP_NET_ADMIN, r
    # Without CAP_CHOWN root cannot give a file away.
    r = run(runner, "--rm", "--cap-drop", "CHOWN", image, "chown", "1:1", "/etc/passwd")
    assert r.code == 1 and "Operation not permitted" in r.err, r
    r = run(runner, "--rm", "--cap-add", "NO_SUCH_CAP", image, "true")
    assert r.code == 125 and "unknown capability" in r.err.lower(), r


def test_privileged(runner: Daemon, image: str) -> None:
    script = (
        "grep ^CapEff: /proc/self/status; stat -c %t,%T /proc/keys; "
        "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
        "grep -c ' /proc/sys ' /proc/mounts || true"
    )
    r = ok(run(runner, "--rm", "--privileged", image, "sh", "-c", script))
    out = lines(r)
    assert caps_of(r.out) == host_cap_bounding(), r
    assert out[1] != "1,3", r  # /proc/keys not masked
    assert out[3] == "0", r  # /proc/sys not remounted read-only
    r = ok(run(runner, "--rm", image, "sh", "-c", script))
    assert lines(r)[1:] == ["1,3", "ro", "1"], r


def test_privileged_sys_is_writable(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", "--privileged", image, "grep", " /sys ", "/proc/mounts"))
    assert r.out.split()[3].split(",")[0] == "rw", r


def test_privileged_sees_the_hosts_devices(runner: Daemon, image: str) -> None:
    r = ok(run(runner, "--rm", "--privileged", image, "ls", "/dev"))
    host = set(os.listdir("/dev"))
    seen = set(r.out.split())
    for name in ("null", "zero", "kmsg", "loop-control"):
        if name in host:
            assert name in seen, r


def test_no_new_privileges(runner: Daemon, image: str) -> None:
    cmd = ("grep", "NoNewPrivs", "/proc/self/status")
    r = ok(run(runner, "--rm", image, *cmd))
    assert proc_status(r.out, "NoNewPrivs") == "0", r
    r = ok(run(runner, "--rm", "--security-opt", "no-new-privileges", image, *cmd))
    assert proc_status(r.out, "NoNewPrivs") == "1", r
    r = ok(run(runner, "--rm", "--security-opt", "no-new-privileges:true", image, *cmd))
    assert proc_status(r.out, "NoNewPrivs") == "1", r


def test_default_seccomp_profile_and_unconfined(runner: Daemon, image: str) -> None:
    script = "grep ^Seccomp: /proc/self/status; unshare -U true && echo unshared"
    r = run(runner, "--rm", image, "sh", "-c", script)
    assert proc_status(r.out, "Seccomp") == "2", r
    assert "unshared" not in r.out and "Operation not permitted" in r.err, r
    r = run(runner, "--rm", "--security-opt", "seccomp=unconfined", image, "sh", "-c", script)
    assert proc_status(r.out, "Seccomp") == "0", r
    assert "unshared" in r.out, r
    # --privileged turns the default profile off too.
    r = ok(run(runner, "--rm", "--privileged", image, "grep", "^Seccomp:", "/proc/self/status"))
    assert proc_status(r.out, "Seccomp") == "0", r


def test_custom_seccomp_profile_blocks_one_syscall(runner: Daemon, image: str) -> None:
    d = public_tempdir("caisson-seccomp-")
    try:
        path = os.path.join(d, "profile.json")
        with open(path, "w") as f:
            json.dump(
                {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                },
                f,
            )
        script = (
            "grep ^Seccomp: /proc/self/status; mkdir /made || echo refused; "
            "touch /ok && echo touched"
        )
        r = run(runner, "--rm", "--security-opt", f"seccomp={path}", image, "sh", "-c", script)
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        r2 = run(runner, "--rm", "--security-opt", f"seccomp={bad}", image, "true")
    finally:
        remove_tree(d)
    assert proc_status(r.out, "Seccomp") == "2", r
    assert "refused" in r.out and "touched" in r.out, r
    assert "Operation not permitted" in r.err, r
    assert r2.code == 125 and "Traceback" not in r2.err, r2
    assert "seccomp" in r2.err.lower(), r2
    r = run(runner, "--rm", "--security-opt", "seccomp=/no/such/profile.json", image, "true")
    assert r.code == 125 and "opening seccomp profile (/no/such/profile.json) failed" in r.err, r


# --- resources through cgroups -------------------------------------------------------------


def cgroup_file(cid: str, controller: str, name: str) -> str:
    """A container's cgroup file as the host shows it (v1 controller or the v2 unified dir)."""
    for path in (
        f"/sys/fs/cgroup/{controller}/caisson/{cid}/{name}",
        f"/sys/fs/cgroup/caisson/{cid}/{name}",
    ):
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
    raise AssertionError(f"no {controller}/{name} for {cid}")


def test_resources_in_the_containers_cgroup(runner: Daemon, image: str) -> None:
    cid = ok(
        run(
            runner,
            "-d",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            image,
            "sleep",
            "60",
        )
    ).out.strip()
    if os.path.isdir("/sys/fs/cgroup/memory"):
        assert cgroup_file(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        if os.path.exists(f"/sys/fs/cgroup/memory/caisson/{cid}/memory.memsw.limit_in_bytes"):
            assert cgroup_file(cid, "memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
        assert cgroup_file(cid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert cgroup_file(cid, "cpu", "cpu.cfs_period_us") == "100000"
        assert cgroup_file(cid, "cpu", "cpu.shares") == "512"
        assert cgroup_file(cid, "cpuset", "cpuset.cpus") == "0"
    else:
        assert cgroup_file(cid, "", "memory.max") == str(64 << 20)
        assert cgroup_file(cid, "", "memory.swap.max") == str(64 << 20)
        assert cgroup_file(cid, "", "cpu.max") == "50000 100000"
        assert cgroup_file(cid, "", "cpuset.cpus") == "0"
    host_config = status_field(runner, cid, "HostConfig")
    assert host_config["Memory"] == 64 << 20, host_config
    assert host_config["MemorySwap"] == 128 << 20, host_config
    assert host_config["NanoCpus"] == 500_000_000, host_config
    assert host_config["CpuShares"] == 512, host_config
    assert host_config["CpusetCpus"] == "0", host_config
    ok(runner.cli("rm", "-f", cid))


def test_cgroup_limits_seen_inside(runner: Daemon, image: str) -> None:
    """Inside, /sys/fs/cgroup holds the container's own cgroup as the root of each hierarchy
    (a cgroup namespace), as docker mounts it: per controller on a v1 host."""
    script = (
        "grep memory /proc/self/cgroup; "
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares "
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset/cpuset.cpus; "
        "touch /sys/fs/cgroup/memory/x 2>/dev/null || echo ro"
    )
    args = ("--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0")
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        script = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; grep -c . /proc/self/cgroup"
        r = ok(run(runner, "--rm", *args, image, "sh", "-c", script))
        assert lines(r) == [str(64 << 20), "50000 100000", "1"], r
        return
    r = ok(run(runner, "--rm", *args, image, "sh", "-c", script))
    assert re.fullmatch(r"\d+:memory:/", lines(r)[0]), r
    assert lines(r)[1:] == [str(64 << 20), "512", "50000", "0", "ro"], r


# --- networking ----------------------------------------------------------------------------


def test_network_none_and_host(runner: Daemon, image: str) -> None:
    script = "hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"
    r = ok(run(runner, "--rm", "--network", "none", image, "sh", "-c", script))
    assert lines(r)[1:] == ["lo"], r
    with open("/proc/net/dev") as f:
        host_ifaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    r = ok(run(runner, "--rm", "--network", "host", image, "sh", "-c", script))
    assert lines(r)[0] == socket.gethostname(), r
    assert lines(r)[1:] == host_ifaces, r
    ok(runner.cli("create", "--name", "hostnet", "--network", "host", image))
    assert status_field(runner, "hostnet", "HostConfig")["NetworkMode"] == "host"


# --- logs ----------------------------------------------------------------------------------


def test_logs_tail_timestamps_since(runner: Daemon, image: str) -> None:
    ok(
        run(
            runner,
            "--name",
            "five",
            image,
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done; echo err >&2",
        )
    )
    assert ok(runner.cli("logs", "--tail", "2", "five")).out == "5\n"
    assert ok(runner.cli("logs", "--tail", "2", "five")).err == "err\n"
    assert ok(runner.cli("logs", "--tail", "0", "five")).out == ""
    r = ok(runner.cli("logs", "-t", "five"))
    stamped = lines(r)
    assert len(stamped) == 5, r
    for n, line in enumerate(stamped, 1):
        m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (\d)", line)
        assert m and m.group(2) == str(n), r
    third = stamped[2].split()[0]
    r = ok(runner.cli("logs", "--since", third, "five"))
    assert r.out == "3\n4\n5\n", r
    r = ok(runner.cli("logs", "--until", third, "five"))
    assert r.out.startswith("1\n2\n"), r
    r = ok(runner.cli("logs", "--since", "2000-01-01T00:00:00Z", "five"))
    assert r.out == "1\n2\n3\n4\n5\n", r


def test_logs_follow_ends_when_the_container_exits(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "follow", image, "sh", "-c", "echo a; sleep 1; echo b; exit 4"))
    r = ok(runner.cli("logs", "-f", "follow", timeout=60))
    assert r.out == "a\nb\n", r


def test_log_rotation(runner: Daemon, image: str) -> None:
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i-padding-padding; i=$((i+1)); done"
    cid = ok(
        run(
            runner,
            "-d",
            "--name",
            "rot",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            image,
            "sh",
            "-c",
            script,
        )
    ).out.strip()
    ok(runner.cli("wait", "rot"))
    out = lines(ok(runner.cli("logs", "rot")))
    assert out[-1] == "line-299-padding-padding", out
    assert "line-0-padding-padding" not in out, out
    # Consecutive lines: rotation loses none of what it keeps.
    numbers = [int(line.split("-")[1]) for line in out]
    assert numbers == list(range(numbers[0], 300)), out
    d = os.path.join(runner.data_root, "containers", cid)
    files = sorted(n for n in os.listdir(d) if "-json.log" in n)
    assert files == [f"{cid}-json.log", f"{cid}-json.log.1"], files
    for name in files:
        assert os.path.getsize(os.path.join(d, name)) <= 1024 + 200, name
    log_config = status_field(runner, "rot", "HostConfig")["LogConfig"]
    assert log_config == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "1k"}}


# --- lifecycle commands --------------------------------------------------------------------


def count_in_logs(d: Daemon, name: str) -> int:
    return len(d.cli("logs", name).out.split())


def test_pause_and_unpause(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "pz", image, "sh", "-c", COUNTER))
    wait_for(lambda: count_in_logs(runner, "pz") > 2, 15, what="the counter")
    assert ok(runner.cli("pause", "pz")).out == "pz\n"
    state = status_field(runner, "pz", "State")
    assert state["Status"] == "paused" and state["Paused"] is True and state["Running"], state
    assert "(Paused)" in ok(runner.cli("ps", "--format", "{{.Status}}")).out
    before = count_in_logs(runner, "pz")
    time.sleep(0.6)
    assert count_in_logs(runner, "pz") == before, "the counter went on while paused"
    r = runner.cli("pause", "pz")
    assert r.code == 1 and "is already paused" in r.err, r
    assert ok(runner.cli("unpause", "pz")).out == "pz\n"
    assert status_field(runner, "pz", "State")["Status"] == "running"
    wait_for(lambda: count_in_logs(runner, "pz") > before + 2, 15, what="the counter again")
    r = runner.cli("unpause", "pz")
    assert r.code == 1 and "is not paused" in r.err, r


def test_rename(runner: Daemon, image: str) -> None:
    cid = ok(run(runner, "-d", "--name", "old", image, "sleep", "60")).out.strip()
    assert ok(runner.cli("rename", "old", "new")).out == ""
    assert inspect(runner, "new")["Name"] == "/new"
    assert inspect(runner, "new")["Id"] == cid
    assert runner.cli("container", "inspect", "old").code == 1
    ok(run(runner, "-d", "--name", "third", image, "sleep", "60"))
    r = runner.cli("rename", "third", "new")
    assert r.code == 1 and "Conflict" in r.err, r
    r = runner.cli("rename", "third", "bad/name")
    assert r.code == 1 and "Invalid container name (bad/name)" in r.err, r


def test_restart_keeps_the_id_with_a_new_start(runner: Daemon, image: str) -> None:
    cid = ok(run(runner, "-d", "--name", "rs", image, "sleep", "60")).out.strip()
    first = status_field(runner, "rs", "State")
    assert ok(runner.cli("restart", "-t", "1", "rs")).out == "rs\n"
    second = inspect(runner, "rs")
    assert second["Id"] == cid
    assert second["State"]["Running"] is True, second["State"]
    assert second["State"]["StartedAt"] > first["StartedAt"], (first, second["State"])
    assert second["State"]["Pid"] != first["Pid"], (first, second["State"])
    # An exited container restarts too.
    ok(run(runner, "--name", "once", image, "sh", "-c", "echo run"))
    ok(runner.cli("restart", "once"))
    wait_for(lambda: runner.cli("logs", "once").out == "run\nrun\n", 15, what="second run")


def test_wait_prints_the_exit_code(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "w1", image, "sh", "-c", "sleep 0.5; exit 3"))
    ok(run(runner, "-d", "--name", "w2", image, "sh", "-c", "exit 0"))
    r = ok(runner.cli("wait", "w1", "w2"))
    assert r.out == "3\n0\n", r


def test_kill_with_a_signal(runner: Daemon, image: str) -> None:
    script = f'trap "echo got-usr1" USR1; echo ready; {LOOP}'
    ok(run(runner, "-d", "--name", "trapper", image, "sh", "-c", script))
    wait_for(lambda: "ready" in runner.cli("logs", "trapper").out, 15, what="the trap")
    assert ok(runner.cli("kill", "-s", "USR1", "trapper")).out == "trapper\n"
    wait_for(lambda: "got-usr1" in runner.cli("logs", "trapper").out, 15, what="the handler")
    assert status_field(runner, "trapper", "State")["Running"] is True
    ok(runner.cli("kill", "-s", "SIGUSR1", "trapper"))
    wait_for(lambda: runner.cli("logs", "trapper").out.count("got-usr1") == 2, 15, what="again")
    ok(runner.cli("kill", "trapper"))
    ok(runner.cli("wait", "trapper"))
    assert status_field(runner, "trapper", "State")["ExitCode"] == 137
    r = runner.cli("kill", "trapper")
    assert r.code == 1 and "is not running" in r.err, r
    ok(run(runner, "-d", "--name", "other", image, "sleep", "60"))
    r = runner.cli("kill", "-s", "NOSUCH", "other")
    assert r.code == 1 and "Invalid signal: NOSUCH" in r.err, r


def test_attach_to_a_running_container(runner: Daemon, image: str) -> None:
    ok(
        run(
            runner,
            "-d",
            "-i",
            "--name",
            "att",
            image,
            "sh",
            "-c",
            "echo ready; read x; echo got:$x; echo to-err >&2; exit 4",
        )
    )
    wait_for(lambda: "ready" in runner.cli("logs", "att").out, 15, what="the container")
    r = runner.cli("attach", "att", input="hello\n")
    assert r.code == 4, r
    assert r.out == "got:hello\n" and r.err == "to-err\n", r
    r = runner.cli("attach", "att")
    assert r.code == 1 and "You cannot attach to a stopped container, start it first" in r.err, r


def test_create_then_start_attached(runner: Daemon, image: str) -> None:
    cid = ok(
        runner.cli("create", "--name", "cs", image, "sh", "-c", "echo hi; echo oops >&2; exit 2")
    ).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    state = status_field(runner, "cs", "State")
    assert state["Status"] == "created" and state["Running"] is False, state
    assert state["StartedAt"] == "0001-01-01T00:00:00Z", state
    r = runner.cli("start", "-a", "cs")
    assert r.code == 2 and r.out == "hi\n" and r.err == "oops\n", r
    # start -a -i feeds stdin when the container was created with -i.
    ok(runner.cli("create", "-i", "--name", "csi", image, "sh", "-c", "read x; echo got:$x"))
    r = ok(runner.cli("start", "-a", "-i", "csi", input="in\n"))
    assert r.out == "got:in\n", r
    # start without -a prints the name and returns.
    ok(runner.cli("create", "--name", "cs2", image, "true"))
    assert ok(runner.cli("start", "cs2")).out == "cs2\n"


# --- exec ----------------------------------------------------------------------------------


def test_exec_flags(runner: Daemon, image: str) -> None:
    ok(run(runner, "-d", "--name", "ex", "-e", "FROM_RUN=1", image, "sleep", "60"))
    assert (
        ok(runner.cli("exec", "-d", "ex", "sh", "-c", "sleep 0.2; echo done > /tmp/flag")).out == ""
    )
    wait_for(
        lambda: runner.cli("exec", "ex", "cat", "/tmp/flag").out == "done\n", 15, what="exec -d"
    )
    r = ok(
        runner.cli(
            "exec",
            "-e",
            "A=1",
            "-e",
            "FROM_RUN=2",
            "-e",
            "CLIENT",
            "ex",
            "env",
            env={"CLIENT": "c"},
        )
    )
    env = dict(line.split("=", 1) for line in lines(r))
    assert env["A"] == "1" and env["FROM_RUN"] == "2" and env["CLIENT"] == "c", r
    r = ok(runner.cli("exec", "-w", "/etc", "-u", "app:staff", "ex", "sh", "-c", "pwd; id"))
    assert lines(r) == ["/etc", "uid=1000(app) gid=50(staff) groups=50(staff)"], r
    r = ok(runner.cli("exec", "-i", "ex", "tr", "a-z", "A-Z", input="shout\n"))
    assert r.out == "SHOUT\n", r
    r = ok(runner.cli("exec", "ex", "cat", input="ignored\n"))
    assert r.out == "", r
    r = runner.cli("exec", "-w", "/no/such/dir", "ex", "pwd")
    assert r.code == 126 or r.code == 1, r
    r = run_in_pty(runner, "exec", "-it", "ex", "sh", "-c", "test -t 0 && test -t 1 && echo tty")
    assert r.code == 0 and r.out == "tty\r\n", r
    r = run_in_pty(
        runner, "exec", "-it", "ex", "sh", "-c", "read x; echo got:$x", send=[("", "typed\r")]
    )
    assert "typed\r\ngot:typed\r\n" in r.out, r
    ok(runner.cli("stop", "-t", "0", "ex"))
    r = runner.cli("exec", "ex", "true")
    assert r.code == 1 and "is not running" in r.err, r


# --- ps, inspect, names, ids ---------------------------------------------------------------


def test_ps_flags(runner: Daemon, image: str) -> None:
    up = ok(run(runner, "-d", "--name", "up", image, "sleep", "60")).out.strip()
    assert run(runner, "--name", "down", image, "sh", "-c", "exit 3").code == 3
    assert ok(runner.cli("ps", "-q")).out == up[:12] + "\n"
    assert sorted(lines(ok(runner.cli("ps", "-aq")))) == sorted(
        [up[:12], inspect(runner, "down")["Id"][:12]]
    )
    assert ok(runner.cli("ps", "-q", "--no-trunc")).out == up + "\n"
    r = ok(
        runner.cli("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}")
    )
    assert re.fullmatch(r"down Exited \(3\) .+ ago\n", r.out), r
    assert (
        ok(runner.cli("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}")).out == "down\n"
    )
    r = runner.cli("ps", "--filter", "status=nonsense")
    assert r.code == 1 and "Invalid filter 'status=nonsense'" in r.err, r
    r = ok(runner.cli("ps", "--format", "json"))
    rows = [json.loads(line) for line in lines(r)]
    assert len(rows) == 1, r
    row = rows[0]
    assert row["ID"] == up[:12] and row["Names"] == "up" and row["State"] == "running", row
    assert row["Image"] == image and row["Command"] == '"sleep 60"', row
    assert row["Status"].startswith("Up "), row
    r = ok(runner.cli("ps", "--no-trunc", "--format", "{{.ID}} {{.Command}}"))
    assert r.out == f'{up} "sleep 60"\n', r
    table = lines(ok(runner.cli("ps", "-a")))
    assert table[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert len(table) == 3, table


def test_inspect_fields(runner: Daemon, image: str) -> None:
    ok(
        run(
            runner,
            "-d",
            "--name",
            "insp",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "app",
            "--memory",
            "32m",
            "-v",
            "insp-vol:/data",
            image,
            "sleep",
            "60",
        )
    )
    doc = inspect(runner, "insp")
    assert re.fullmatch(r"[0-9a-f]{64}", doc["Id"]) and doc["Name"] == "/insp", doc
    assert doc["Path"] == "sleep" and doc["Args"] == ["60"], doc
    assert doc["Image"].startswith("sha256:"), doc
    state = doc["State"]
    assert list(state) == [
        "Status",
        "Running",
        "Paused",
        "Restarting",
        "OOMKilled",
        "Dead",
        "Pid",
        "ExitCode",
        "Error",
        "StartedAt",
        "FinishedAt",
    ], state
    assert state["Status"] == "running" and state["Running"] is True and state["Pid"] > 0
    assert state["FinishedAt"] == "0001-01-01T00:00:00Z", state
    config = doc["Config"]
    assert config["Cmd"] == ["sleep", "60"] and config["Entrypoint"] is None, config
    # docker's order: the flags' variables, then the image's not overridden.
    assert config["Env"][0] == "X=1" and config["Env"][1].startswith("PATH="), config
    assert config["WorkingDir"] == "/tmp" and config["User"] == "app", config
    assert config["Image"] == image and config["Hostname"] == doc["Id"][:12], config
    assert doc["HostConfig"]["Memory"] == 32 << 20, doc["HostConfig"]
    volume_mounts = [m for m in doc["Mounts"] if m["Type"] == "volume"]
    assert volume_mounts == [
        {
            "Type": "volume",
            "Name": "insp-vol",
            "Source": os.path.join(runner.data_root, "volumes", "insp-vol", "_data"),
            "Destination": "/data",
            "Driver": "local",
            "Mode": "z",
            "RW": True,
            "Propagation": "",
        }
    ], doc["Mounts"]
    ok(runner.cli("stop", "-t", "0", "insp"))
    state = status_field(runner, "insp", "State")
    assert state["Status"] == "exited" and state["Pid"] == 0 and state["ExitCode"] == 137, state
    assert state["FinishedAt"] > state["StartedAt"], state
    r = ok(runner.cli("inspect", "-f", "{{.State.ExitCode}} {{.Config.User}}", "insp"))
    assert r.out == "137 app\n", r


def test_generated_names_and_duplicate_names(runner: Daemon, image: str) -> None:
    cid = ok(runner.cli("create", image)).out.strip()
    name = inspect(runner, cid)["Name"]
    assert re.fullmatch(r"/[a-z]+_[a-z]+[0-9]*", name), name
    ok(runner.cli("create", "--name", "dup", image))
    dup_id = inspect(runner, "dup")["Id"]
    r = run(runner, "--name", "dup", image, "true")
    assert r.code == 125, r
    assert r.err == (
        f'caisson: Error response from daemon: Conflict. The container name "/dup" is already '
        f'in use by container "{dup_id}". You have to remove (or rename) that container to be '
        "able to reuse that name.\nSee 'caisson run --help'.\n"
    ), r
    r = runner.cli("create", "--name", "bad name", image)
    assert (
        r.code == 1
        and "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" in r.err
    ), r


def test_id_prefixes(runner: Daemon, image: str) -> None:
    cid = ok(runner.cli("create", "--name", "pref", image)).out.strip()
    for ref in (cid, cid[:12], cid[:5], "pref"):
        assert inspect(runner, ref)["Id"] == cid, ref
    r = runner.cli("container", "inspect", "zzzz")
    assert r.code == 1 and "No such container: zzzz" in r.err, r


# --- volumes -------------------------------------------------------------------------------


def test_volume_commands(runner: Daemon, image: str) -> None:  # noqa: PLR0915
    assert ok(runner.cli("volume", "create", "v1")).out == "v1\n"
    assert ok(runner.cli("volume", "create", "--label", "k=v", "v2")).out == "v2\n"
    generated = ok(runner.cli("volume", "create")).out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", generated), generated
    r = ok(runner.cli("volume", "ls"))
    table = lines(r)
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"], r
    assert sorted(row.split()[1] for row in table[1:]) == sorted(["v1", "v2", generated]), r
    assert ok(runner.cli("volume", "ls", "-q", "--filter", "label=k=v")).out == "v2\n"
    doc = json.loads(ok(runner.cli("volume", "inspect", "v2")).out)[0]
    assert doc["Name"] == "v2" and doc["Driver"] == "local" and doc["Scope"] == "local", doc
    assert doc["Labels"] == {"k": "v"}, doc
    assert doc["Mountpoint"] == os.path.join(runner.data_root, "volumes", "v2", "_data"), doc
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", doc["CreatedAt"]), doc
    ok(run(runner, "--rm", "-v", "v1:/v", image, "sh", "-c", "echo kept > /v/f"))
    assert ok(run(runner, "--rm", "-v", "v1:/v", image, "cat", "/v/f")).out == "kept\n"
    ok(runner.cli("create", "--name", "user", "-v", "v1:/v", image))
    r = runner.cli("volume", "rm", "v1")
    assert r.code == 1 and "volume is in use" in r.err, r
    r = ok(runner.cli("volume", "prune", "-f"))
    # docker 20.10: every unused volume goes, named (v2) or not; v1 is in use.
    assert generated in r.out and "v2" in r.out.split() and "v1" not in r.out.split(), r
    assert r.out.startswith("Deleted Volumes:\n"), r
    assert "Total reclaimed space:" in r.out, r
    ok(runner.cli("rm", "-v", "user"))
    assert ok(runner.cli("volume", "rm", "v1")).out == "v1\n"
    assert ok(runner.cli("volume", "ls", "-q")).out == ""
    r = runner.cli("volume", "inspect", "v1")
    assert r.code == 1 and "No such volume: v1" in r.err, r
    r = runner.cli("volume", "rm", "v1")
    assert r.code == 1 and "No such volume" in r.err, r


def test_volume_prune_removes_unused_named_volumes(runner: Daemon, image: str) -> None:
    ok(runner.cli("volume", "create", "unused"))
    ok(runner.cli("volume", "create", "used"))
    ok(runner.cli("create", "--name", "holder", "-v", "used:/v", image))
    r = ok(runner.cli("volume", "prune", "-f"))
    assert "unused" in r.out.split() and "used" not in r.out.split(), r
    assert "used" in ok(runner.cli("volume", "ls", "-q")).out.split()


def test_rm_v_removes_anonymous_volumes(runner: Daemon, image: str) -> None:
    ok(run(runner, "--name", "anon", image, "true"))
    mounts = inspect(runner, "anon")["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Destination"] == "/data", mounts
    anonymous = mounts[0]["Name"]
    assert re.fullmatch(r"[0-9a-f]{64}", anonymous), mounts
    assert anonymous in ok(runner.cli("volume", "ls", "-q")).out.split()
    ok(runner.cli("rm", "-v", "anon"))
    assert anonymous not in ok(runner.cli("volume", "ls", "-q")).out.split()
