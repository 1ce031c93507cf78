"""run/create flags -> CreateContainerRequest, as docker 20.10's parse(), and its errors
(exit 125 with docker's wording). No daemon: the parser and runflags only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from caisson.cli import app, runflags
from caisson.cli import args as cli_args
from caisson.cli.errors import UsageError
from caisson_api.daemon.v1 import containers_pb2 as pb


def request(*argv: str, environ: dict[str, str] | None = None) -> pb.CreateContainerRequest:
    args, extra = app.build_parser().parse_known_args(["run", *argv])
    cli_args.bind(args, extra)
    return runflags.build_request(args, environ or {})


def usage_error(*argv: str) -> str:
    with pytest.raises(UsageError) as e:
        request(*argv)
    assert e.value.exit_code == 125
    assert e.value.help_prog == "caisson run"
    return str(e.value)


def test_defaults_attach_stdout_and_stderr_and_leave_cmd_to_the_image() -> None:
    req = request("busybox")
    c, h = req.config, req.host_config
    assert c.image == "busybox" and not c.HasField("cmd") and not c.HasField("entrypoint")
    assert (c.attach_stdin, c.attach_stdout, c.attach_stderr) == (False, True, True)
    assert (c.tty, c.open_stdin, c.stdin_once) == (False, False, False)
    assert h.restart_policy.name == "no" and h.network_mode == ""
    assert not h.HasField("init") and not h.HasField("pids_limit")
    assert not c.HasField("stop_timeout") and c.stop_signal == ""
    assert req.name == "" and req.platform == ""


def test_flags_stop_at_the_image_as_docker_run() -> None:
    # -c, -t and --rm after the image belong to the command (pflag SetInterspersed(false)).
    req = request("-t", "busybox", "sh", "-c", "echo hi", "--rm", "-t")
    assert list(req.config.cmd.values) == ["sh", "-c", "echo hi", "--rm", "-t"]
    assert req.config.tty and not req.host_config.auto_remove
    assert req.host_config.cpu_shares == 0
    req = request("--", "busybox", "ls")
    assert req.config.image == "busybox" and list(req.config.cmd.values) == ["ls"]


def test_joined_short_flags_and_values() -> None:
    req = request("-it", "-eA=1", "-e", "B=2", "--name=web", "-hbox", "busybox")
    c = req.config
    assert c.tty and c.open_stdin and c.attach_stdin and c.stdin_once
    assert list(c.env) == ["A=1", "B=2"]
    assert req.name == "web" and c.hostname == "box"


def test_every_config_flag(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\n\nFROM_FILE=1\n  SPACED=a b \nPASSED\nUNSET\n")
    label_file = tmp_path / "labels"
    label_file.write_text("team=core\nbare\n")
    req = request(
        *("--env-file", str(env_file), "-e", "X=1", "--env", "HOME2", "-e", "NOPE"),
        *("-w", "/work", "-u", "1000:1000", "--hostname", "h", "--domainname", "example.org"),
        *("-l", "a=1", "--label", "b=", "--label-file", str(label_file)),
        *("--stop-signal", "SIGUSR1", "--stop-timeout", "30"),
        *("-a", "stdout", "-a", "STDERR", "--expose", "7000-7001/udp"),
        "busybox",
        environ={"PASSED": "from-env", "HOME2": "/h"},
    )
    c = req.config
    assert list(c.env) == [
        "FROM_FILE=1",
        "SPACED=a b ",
        "PASSED=from-env",
        "X=1",
        "HOME2=/h",
        "NOPE",
    ]
    assert (c.working_dir, c.user, c.hostname, c.domainname) == (
        "/work",
        "1000:1000",
        "h",
        "example.org",
    )
    assert dict(c.labels) == {"team": "core", "a": "1", "b": ""}
    assert c.stop_signal == "SIGUSR1" and c.stop_timeout == 30
    assert (c.attach_stdin, c.attach_stdout, c.attach_stderr) == (False, True, True)
    assert list(c.exposed_ports) == ["7000/udp", "7001/udp"]


def test_entrypoint_resets_and_leaves_cmd_unset_without_arguments() -> None:
    req = request("--entrypoint", "/bin/echo", "busybox")
    assert list(req.config.entrypoint.values) == ["/bin/echo"]
    assert not req.config.HasField("cmd")
    req = request("--entrypoint=", "busybox", "ls", "-l")
    assert req.config.HasField("entrypoint") and list(req.config.entrypoint.values) == []
    assert list(req.config.cmd.values) == ["ls", "-l"]


def test_every_host_config_flag() -> None:
    req = request(
        *("--rm", "--read-only", "--privileged", "--init", "--network", "none"),
        *("--tmpfs", "/run", "--tmpfs", "/tmp:rw,size=64m", "--shm-size", "64m"),
        *("--ulimit", "nofile=1024:2048", "--ulimit", "nproc=10"),
        *("-m", "512m", "--memory-swap", "-1", "--cpus", "1.5", "-c", "512"),
        *("--cpuset-cpus", "0-1", "--pids-limit", "100", "--cap-add", "NET_ADMIN"),
        *("--cap-drop", "ALL", "--security-opt", "no-new-privileges"),
        *("--security-opt", "label:disable", "--group-add", "audio"),
        *("--dns", "1.1.1.1", "--dns-search", "example.org", "--dns-option", "ndots:2"),
        *("--add-host", "db:10.0.0.2", "--log-driver", "json-file"),
        *("--log-opt", "max-size=10m", "--log-opt", "max-file=3"),
        *("--restart", "no", "--platform", "linux/amd64"),
        "busybox",
    )
    h = req.host_config
    assert h.auto_remove and h.readonly_rootfs and h.privileged and h.init
    assert h.network_mode == "none"
    assert dict(h.tmpfs) == {"/run": "", "/tmp": "rw,size=64m"}
    assert h.shm_size == 64 * 1024**2
    assert [(u.name, u.soft, u.hard) for u in h.ulimits] == [
        ("nofile", 1024, 2048),
        ("nproc", 10, 10),
    ]
    assert (h.memory, h.memory_swap, h.nano_cpus, h.cpu_shares) == (
        512 * 1024**2,
        -1,
        1_500_000_000,
        512,
    )
    assert h.cpuset_cpus == "0-1" and h.pids_limit == 100
    assert list(h.cap_add) == ["NET_ADMIN"] and list(h.cap_drop) == ["ALL"]
    assert list(h.security_opt) == ["no-new-privileges", "label:disable"]
    assert list(h.group_add) == ["audio"]
    assert (list(h.dns), list(h.dns_search), list(h.dns_options)) == (
        ["1.1.1.1"],
        ["example.org"],
        ["ndots:2"],
    )
    assert list(h.extra_hosts) == ["db:10.0.0.2"]
    assert h.log_config.type == "json-file"
    assert dict(h.log_config.config) == {"max-size": "10m", "max-file": "3"}
    assert req.platform == "linux/amd64"


def test_go_bool_flags_take_false() -> None:
    req = request("--rm=false", "--init=false", "--read-only=0", "busybox", "--rm")
    h = req.host_config
    assert not h.auto_remove and h.HasField("init") and not h.init and not h.readonly_rootfs
    assert list(req.config.cmd.values) == ["--rm"]  # not rewritten: it is the command's


def test_volumes_binds_and_mounts() -> None:
    req = request(
        *("-v", "/data", "-v", "/host:/ctr:ro", "-v", "named:/v", "-v", "/data"),
        *("--mount", "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared"),
        *("--mount", "type=volume,src=vol,dst=/c,volume-nocopy,volume-label=k=v"),
        *("--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777"),
        *("--mount", "target=/d"),
        "busybox",
    )
    assert list(req.config.volumes) == ["/data"]
    assert list(req.host_config.binds) == ["/host:/ctr:ro", "named:/v"]
    bind, vol, tmpfs, anonymous = req.host_config.mounts
    assert (bind.type, bind.source, bind.target, bind.read_only, bind.bind_propagation) == (
        "bind",
        "/a",
        "/b",
        True,
        "rshared",
    )
    assert (vol.type, vol.source, vol.target, vol.volume_no_copy) == ("volume", "vol", "/c", True)
    assert dict(vol.volume_labels) == {"k": "v"}
    assert (tmpfs.type, tmpfs.target, tmpfs.tmpfs_size, tmpfs.tmpfs_mode) == (
        "tmpfs",
        "/t",
        1024**2,
        0o1777,
    )
    assert (anonymous.type, anonymous.source, anonymous.target) == ("volume", "", "/d")


def test_publish_into_port_bindings_and_exposed_ports() -> None:
    req = request(
        *("-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "-p", "9000", "-P"),
        *("-p", "[::1]:7000-7001:7000-7001", "-p", "published=8443,target=443"),
        "busybox",
    )
    c, h = req.config, req.host_config
    assert list(c.exposed_ports) == [
        "80/tcp",
        "53/udp",
        "9000/tcp",
        "7000/tcp",
        "7001/tcp",
        "443/tcp",
    ]

    def bindings(port: str) -> list[tuple[str, str]]:
        return [(b.host_ip, b.host_port) for b in h.port_bindings[port].bindings]

    assert bindings("80/tcp") == [("", "8080")]
    assert bindings("53/udp") == [("127.0.0.1", "5353")]
    assert bindings("9000/tcp") == [("", "")]
    assert bindings("7001/tcp") == [("::1", "7001")]
    assert bindings("443/tcp") == [("", "8443")]
    assert h.publish_all_ports


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1.5g", int(1.5 * 1024**3)),
        ("64MiB", 64 * 1024**2),
        ("100", 100),
        ("10 kb", 10 * 1024),
    ],
)
def test_sizes_as_go_units_ram_in_bytes(text: str, value: int) -> None:
    assert runflags.ram_in_bytes(text) == value


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-m", "abc"], 'invalid argument "abc" for "-m, --memory" flag: invalid size: \'abc\''),
        (["--shm-size", "-1"], 'invalid argument "-1" for "--shm-size" flag: invalid size: \'-1\''),
        (
            ["--cpus", "x"],
            'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number',
        ),
        (["--cpus", "0.0000000001"], 'for "--cpus" flag: value is too precise'),
        (
            ["-c", "x"],
            'invalid argument "x" for "-c, --cpu-shares" flag: '
            'strconv.ParseInt: parsing "x": invalid syntax',
        ),
        (["--ulimit", "nofile"], 'for "--ulimit" flag: invalid ulimit argument: nofile'),
        (["--ulimit", "bogus=1"], "invalid ulimit type: bogus"),
        (
            ["--ulimit", "nofile=2:1"],
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1",
        ),
        (["--ulimit", "nofile=1:2:3"], "too many limit value arguments - 1:2:3"),
        (["-e", "=x"], 'for "-e, --env" flag: invalid environment variable: =x'),
        (["-l", " =x"], "for \"-l, --label\" flag: invalid label ' =x': empty name"),
        (["-l", "a b=x"], "for \"-l, --label\" flag: label 'a b' contains whitespaces"),
        (["-a", "stdfoo"], "valid streams are STDIN, STDOUT and STDERR"),
        (["--dns", "one"], 'for "--dns" flag: one is not an ip address'),
        (["--add-host", "nohost"], 'bad format for add-host: "nohost"'),
        (["--add-host", "h:1.2.3"], 'invalid IP address in add-host: "1.2.3"'),
        (["--mount", "type=bind"], 'for "--mount" flag: target is required'),
        (["--mount", "type=bind,target=/x,bogus=1"], "unexpected key 'bogus' in 'bogus=1'"),
        (
            ["--mount", "type=bind,target=/x,volume-nocopy"],
            "cannot mix 'volume-*' options with mount type 'bind'",
        ),
        (["--mount", "target=/x,ro=maybe"], "invalid value for ro: maybe"),
        (["--mount", "target"], "invalid field 'target' must be a key=value pair"),
        (["-p", "80/xyz"], "Invalid proto: xyz"),
        (["-p", "abc"], "Invalid containerPort: abc"),
        (["-p", "1.2.3:80:80"], "Invalid ip address: 1.2.3"),
        (
            ["-p", "8000-8001:80-82"],
            "Invalid ranges specified for container and host Ports: 80-82 and 8000-8001",
        ),
        (["--expose", "1:2"], "invalid port format for --expose: 1:2"),
        (["--restart", "always", "--rm"], "Conflicting options: --restart and --rm"),
        (["--restart", "on-failure:x"], "maximum retry count must be an integer"),
        (["--restart", "a:1:2"], "invalid restart policy format"),
        (["--log-driver", "none", "--log-opt", "a=b"], "invalid logging opts for driver none"),
        (["--security-opt", "nonsense"], 'Invalid --security-opt: "nonsense"'),
        (
            ["--security-opt", "seccomp=/nonexistent.json"],
            "opening seccomp profile (/nonexistent.json) failed",
        ),
        (["--env-file", "/nonexistent"], "open /nonexistent: no such file or directory"),
        (
            ["--pull", "sometimes"],
            'invalid pull option: \'sometimes\': must be one of "always", "missing" or "never"',
        ),
        (["--stop-timeout", "soon"], 'for "--stop-timeout" flag: strconv.ParseInt'),
    ],
)
def test_bad_flags_are_usage_errors_with_dockers_words(argv: list[str], message: str) -> None:
    assert message in usage_error(*argv, "busybox")


def test_env_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("MY VAR=1\n")
    assert "poorly formatted environment: variable 'MY VAR' contains whitespaces" in usage_error(
        "--env-file", str(bad), "busybox"
    )
    binary = tmp_path / "binary"
    binary.write_bytes(b"A=\xff\n")
    assert f"env file {binary} contains invalid utf8 bytes at line 1" in usage_error(
        "--env-file", str(binary), "busybox"
    )


def test_seccomp_profile_is_sent_inline_and_compact(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    req = request("--security-opt", f"seccomp={profile}", "busybox")
    assert list(req.host_config.security_opt) == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']
    req = request("--security-opt", "seccomp=unconfined", "busybox")
    assert list(req.host_config.security_opt) == ["seccomp=unconfined"]


@pytest.mark.parametrize("command", ["run", "create"])
def test_bad_flag_through_the_cli_exits_125_and_points_at_help(command: str) -> None:
    """A value the flag's type refuses reads as docker 20.10's FlagErrorFunc prints pflag's
    error: no program prefix, no added period."""
    out, err = io.StringIO(), io.StringIO()
    code = app.run([command, "--memory", "lots", "busybox"], stdout=out, stderr=err, environ={})
    assert code == 125 and out.getvalue() == ""
    assert err.getvalue() == (
        'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\'\n'
        f"See 'caisson {command} --help'.\n"
    )
    err = io.StringIO()
    assert app.run([command, "--bogus", "busybox"], stdout=out, stderr=err, environ={}) == 125
    assert err.getvalue() == f"unknown flag: --bogus\nSee 'caisson {command} --help'.\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--name"], "flag needs an argument: --name"),
        (["-e"], "flag needs an argument: 'e' in -e"),
        (["-ite"], "flag needs an argument: 'e' in -e"),
        (["-Z", "busybox"], "unknown shorthand flag: 'Z' in -Z"),
        (["-iZ", "busybox"], "unknown shorthand flag: 'Z' in -Z"),
        (["--no-such=1", "busybox"], "unknown flag: --no-such"),
        (
            ["--rm=maybe", "busybox"],
            'invalid argument "maybe" for "--rm" flag: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
        ),
        (
            ["-d=maybe", "busybox"],
            'invalid argument "maybe" for "-d, --detach" flag: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
        ),
        (
            ["--ulimit", "nproc=2:1", "busybox"],
            'invalid argument "nproc=2:1" for "--ulimit" flag: '
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1",
        ),
    ],
)
def test_flag_errors_read_as_pflags(argv: list[str], message: str) -> None:
    err = io.StringIO()
    assert app.run(["run", *argv], stderr=err, environ={}) == 125
    assert err.getvalue() == f"{message}\nSee 'caisson run --help'.\n"


def test_an_error_of_parse_keeps_dockers_report_error_form() -> None:
    """Flags that parse but do not go together: docker's reportError, "docker: X." """
    err = io.StringIO()
    assert app.run(["run", "--restart", "always", "--rm", "busybox"], stderr=err, environ={}) == 125
    assert err.getvalue() == (
        "caisson: Conflicting options: --restart and --rm.\nSee 'caisson run --help'.\n"
    )


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        (
            ["none", "host"],
            "Error response from daemon: "
            "Container cannot be connected to network endpoints: none, host",
        ),
        (
            ["none", "mynet"],
            "conflicting options: cannot attach both user-defined and non-user-defined "
            "network-modes",
        ),
        (["none", "none"], 'network "none" is specified multiple times'),
    ],
)
def test_more_than_one_network_is_refused_as_docker_does(networks: list[str], message: str) -> None:
    argv = [w for n in networks for w in ("--network", n)]
    assert usage_error(*argv, "busybox") == message
    assert request("--net", "host", "busybox").host_config.network_mode == "host"


def test_dash_h_is_hostname_and_help_is_long_only() -> None:
    out = io.StringIO()
    assert app.run(["run", "--help"], stdout=out, environ={}) == 0
    assert "--hostname" in out.getvalue()
