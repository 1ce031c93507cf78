"""docker's create rules: Config/HostConfig merge, validation messages, mounts, executor spec."""

import json

import pytest

from caisson import errors
from caisson.daemon import containerspec as cs
from caisson.daemon.containerrecord import ContainerRecord
from caisson_api.daemon.v1 import containers_pb2 as api

CID = "0123456789ab" + "c" * 52
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BUSYBOX = {"config": {"Env": [PATH_ENV], "Cmd": ["sh"]}}
NGINX = {
    "config": {
        "User": "",
        "ExposedPorts": {"80/tcp": {}},
        "Env": [PATH_ENV, "NGINX_VERSION=1.25"],
        "Entrypoint": ["/docker-entrypoint.sh"],
        "Cmd": ["nginx", "-g", "daemon off;"],
        "WorkingDir": "/srv",
        "Labels": {"maintainer": "nginx", "a": "image"},
        "StopSignal": "SIGQUIT",
        "Volumes": {"/var/cache/nginx": {}},
    }
}


def req(cmd=None, entrypoint=None, **config) -> api.CreateContainerRequest:
    host = config.pop("host", {})
    r = api.CreateContainerRequest(
        config=api.ContainerConfig(image="img", **config), host_config=api.HostConfig(**host)
    )
    if cmd is not None:
        r.config.cmd.SetInParent()
        r.config.cmd.values[:] = cmd
    if entrypoint is not None:
        r.config.entrypoint.SetInParent()
        r.config.entrypoint.values[:] = entrypoint
    return r


def merge(r, image=BUSYBOX, **kw):
    return cs.merge(r, image, container_id=CID, **kw)


def fails(r, message, image=BUSYBOX, kind=errors.InvalidArgument, **kw):
    with pytest.raises(kind) as e:
        merge(r, image, **kw)
    assert str(e.value) == message


# Entrypoint and Cmd ---------------------------------------------------------------------------


def test_image_cmd_when_none_given():
    cfg, _, path, args = merge(req())
    assert (path, args) == ("sh", [])
    assert list(cfg.cmd.values) == ["sh"] and not cfg.HasField("entrypoint")


def test_user_cmd_keeps_the_image_entrypoint():
    cfg, _, path, args = merge(req(cmd=["nginx", "-T"]), NGINX)
    assert (path, args) == ("/docker-entrypoint.sh", ["nginx", "-T"])
    assert list(cfg.entrypoint.values) == ["/docker-entrypoint.sh"]


def test_image_entrypoint_and_cmd():
    _, _, path, args = merge(req(), NGINX)
    assert (path, args) == ("/docker-entrypoint.sh", ["nginx", "-g", "daemon off;"])


def test_user_entrypoint_drops_the_image_cmd():
    cfg, _, path, args = merge(req(entrypoint=["/bin/echo"]), NGINX)
    assert (path, args) == ("/bin/echo", [])
    assert not cfg.HasField("cmd")


def test_user_entrypoint_and_cmd():
    _, _, path, args = merge(req(cmd=["a", "b"], entrypoint=["/bin/echo", "x"]), NGINX)
    assert (path, args) == ("/bin/echo", ["x", "a", "b"])


def test_empty_entrypoint_clears_it_and_needs_a_command():
    cfg, _, path, args = merge(req(cmd=["echo", "hi"], entrypoint=[""]), NGINX)
    assert (path, args) == ("echo", ["hi"])
    assert not cfg.HasField("entrypoint")
    fails(req(entrypoint=[""]), "No command specified", NGINX)


def test_no_command_at_all():
    fails(req(), "No command specified", {"config": {"Env": [PATH_ENV]}})
    fails(req(), "No command specified", {})


# the rest of Config ---------------------------------------------------------------------------


def test_env_user_first_then_image_unless_overridden():
    cfg, *_ = merge(req(env=["NGINX_VERSION=2", "A=1", "B"]), NGINX)
    assert list(cfg.env) == ["NGINX_VERSION=2", "A=1", "B", PATH_ENV]


def test_env_with_an_empty_name_is_rejected():
    fails(req(env=["=x"]), "invalid environment variable: =x")


def test_labels_ports_volumes_workdir_user_stopsignal_from_the_image():
    r = req(labels={"a": "user"}, exposed_ports=["8080"], volumes=["/data"])
    cfg, *_ = merge(r, NGINX)
    assert dict(cfg.labels) == {"a": "user", "maintainer": "nginx"}
    assert list(cfg.exposed_ports) == ["8080/tcp", "80/tcp"]
    assert list(cfg.volumes) == ["/data", "/var/cache/nginx"]
    assert cfg.working_dir == "/srv" and cfg.stop_signal == "SIGQUIT"
    cfg, *_ = merge(req(working_dir="/w", user="1:2", stop_signal="USR1"), NGINX)
    assert (cfg.working_dir, cfg.user, cfg.stop_signal) == ("/w", "1:2", "USR1")


def test_relative_working_dir():
    fails(
        req(working_dir="w"),
        "the working directory 'w' is invalid, it needs to be an absolute path",
    )


def test_bad_stop_signal():
    fails(req(stop_signal="SIGFOO"), "Invalid signal: SIGFOO")
    fails(req(stop_signal="0"), "Invalid signal: 0")


@pytest.mark.parametrize(
    "text,number", [("TERM", 15), ("sigkill", 9), ("SIGUSR1", 10), ("9", 9), ("RTMIN+1", 35)]
)
def test_parse_signal(text, number):
    assert cs.parse_signal(text) == number


def test_hostname_defaults_to_the_short_id_or_the_hosts_with_host_network():
    cfg, *_ = merge(req())
    assert cfg.hostname == CID[:12]
    cfg, *_ = merge(req(hostname="web"))
    assert cfg.hostname == "web"
    cfg, hc, *_ = merge(req(host={"network_mode": "host"}), host_hostname="box")
    assert cfg.hostname == "box" and hc.network_mode == "host"


def test_anonymous_v_goes_to_config_volumes():
    cfg, hc, *_ = merge(req(host={"binds": ["/anon", "/h:/c"]}))
    assert list(cfg.volumes) == ["/anon"] and list(hc.binds) == ["/h:/c"]


# HostConfig -----------------------------------------------------------------------------------


def test_host_config_defaults_as_inspect_shows_them():
    _, hc, *_ = merge(req())
    assert hc.restart_policy.name == "no"
    assert hc.shm_size == 64 * 1024 * 1024
    assert hc.network_mode == "default"
    assert hc.log_config.type == "json-file"
    assert dict(hc.log_config.config) == {"max-size": "20m", "max-file": "5"}
    assert not hc.HasField("init") and not hc.HasField("pids_limit")


def test_log_opts_given_win_over_the_defaults():
    r = req(host={"log_config": api.LogConfig(config={"max-size": "1k"})})
    _, hc, *_ = merge(r)
    assert dict(hc.log_config.config) == {"max-size": "1k", "max-file": "5"}


@pytest.mark.parametrize(
    "log,message",
    [
        ({"type": "syslog"}, "logger: no log driver named 'syslog' is registered"),
        ({"config": {"foo": "1"}}, "unknown log opt 'foo' for json-file log driver"),
        ({"config": {"max-size": "1x"}}, "invalid size: '1x'"),
        ({"config": {"max-file": "0"}}, "max-file cannot be less than 1"),
        ({"config": {"max-file": "a"}}, 'strconv.Atoi: parsing "a": invalid syntax'),
    ],
)
def test_bad_log_config(log, message):
    fails(req(host={"log_config": api.LogConfig(**log)}), message)


def test_memory_swap_defaults_to_twice_memory():
    _, hc, *_ = merge(req(host={"memory": 8 << 20}))
    assert hc.memory_swap == 16 << 20
    _, hc, *_ = merge(req(host={"memory": 8 << 20, "memory_swap": -1}))
    assert hc.memory_swap == -1


def test_cpu_shares_are_clamped_and_pids_limit_zero_is_unlimited():
    _, hc, *_ = merge(req(host={"cpu_shares": 1 << 20, "pids_limit": -1}))
    assert hc.cpu_shares == 262144 and not hc.HasField("pids_limit")
    _, hc, *_ = merge(req(host={"pids_limit": 10}))
    assert hc.pids_limit == 10


@pytest.mark.parametrize(
    "host,message",
    [
        (
            {"auto_remove": True, "restart_policy": api.RestartPolicy(name="always")},
            "Conflicting options: --restart and --rm",
        ),
        (
            {"restart_policy": api.RestartPolicy(name="sometimes")},
            "invalid restart policy 'sometimes'",
        ),
        (
            {"restart_policy": api.RestartPolicy(name="always", maximum_retry_count=2)},
            "maximum retry count cannot be used with restart policy 'always'",
        ),
        (
            {"restart_policy": api.RestartPolicy(name="on-failure", maximum_retry_count=-1)},
            "maximum retry count cannot be negative",
        ),
        ({"memory": 1000}, "Minimum memory limit allowed is 6MB"),
        (
            {"memory_swap": 8 << 20},
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            {"memory": 8 << 20, "memory_swap": 7 << 20},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        ({"shm_size": -1}, "SHM size can not be less than 0"),
        ({"cpuset_cpus": "0-x"}, "Invalid value 0-x for cpuset cpus: invalid format: 0-x"),
        ({"cap_add": ["FOO"]}, 'invalid CapAdd: unknown capability: "CAP_FOO"'),
        ({"cap_drop": ["FOO"]}, 'invalid CapDrop: unknown capability: "CAP_FOO"'),
        ({"security_opt": ["bogus"]}, 'invalid --security-opt 1: "bogus"'),
        ({"security_opt": ["foo=bar"]}, 'invalid --security-opt 2: "foo=bar"'),
        (
            {"security_opt": ["no-new-privileges=maybe"]},
            'invalid --security-opt 2: "no-new-privileges=maybe"',
        ),
        ({"extra_hosts": ["nocolon"]}, 'bad format for add-host: "nocolon"'),
        ({"extra_hosts": ["h:1.2.3"]}, 'invalid IP address in add-host: "1.2.3"'),
        ({"dns": ["x"]}, "x is not an ip address"),
        ({"ulimits": [api.Ulimit(name="files", soft=1, hard=1)]}, "invalid ulimit type: files"),
        (
            {"ulimits": [api.Ulimit(name="nofile", soft=2, hard=1)]},
            "ulimit soft limit must be less than or equal to hard limit: 2 > 1",
        ),
        (
            {"network_mode": "container:x", "port_bindings": {"80/tcp": api.PortBindings()}},
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            {"network_mode": "container:x", "dns": ["1.1.1.1"]},
            "conflicting options: dns and the network mode",
        ),
        (
            {"network_mode": "container:x", "extra_hosts": ["a:1.2.3.4"]},
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
    ],
)
def test_host_config_errors(host, message):
    fails(req(host=host), message)


def test_executor_network_modes():
    assert [cs.network_mode(m) for m in ("", "default", "bridge", "mynet")] == ["bridge"] * 4
    assert [cs.network_mode(m) for m in ("none", "host", "container:x")] == [
        "none",
        "host",
        "container:x",
    ]
    assert [cs.user_network(m) for m in ("default", "bridge", "none", "mynet")] == [
        False,
        False,
        False,
        True,
    ]


def test_cpus_beyond_the_machine():
    import os

    n = os.cpu_count()
    fails(
        req(host={"nano_cpus": (n + 1) * 10**9}),
        f"Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
    )


def test_capabilities_are_normalized():
    _, hc, *_ = merge(req(host={"cap_add": ["net_admin", "all"], "cap_drop": ["CAP_CHOWN"]}))
    assert list(hc.cap_add) == ["CAP_NET_ADMIN", "ALL"] and list(hc.cap_drop) == ["CAP_CHOWN"]


def test_security_opts():
    o = cs.parse_security_opts(["no-new-privileges", "seccomp=unconfined", "apparmor=x"])
    assert o.no_new_privileges and o.seccomp == "unconfined" and o.apparmor == "x"
    assert not cs.parse_security_opts(["no-new-privileges:false"]).no_new_privileges
    profile = json.dumps({"defaultAction": "SCMP_ACT_ALLOW"})
    assert cs.parse_security_opts([f"seccomp={profile}"]).seccomp == profile
    with pytest.raises(errors.InvalidArgument, match="^Decoding seccomp profile failed"):
        cs.parse_security_opts(["seccomp=/etc/profile.json"])


# mounts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bind,message",
    [
        (":/x", "invalid volume specification: ':/x'"),
        ("/foo:rw", "invalid volume specification: '/foo:rw'"),
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        ("/h:/c:bogus", "invalid mode: bogus"),
        ("/h:/c:ro,rw", "invalid mode: ro,rw"),
        (
            "/h:x",
            "invalid volume specification: '/h:x': invalid mount config for type \"bind\": "
            "invalid mount path: 'x' mount path must be absolute",
        ),
        (
            "/h:/",
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": "
            "invalid specification: destination can't be '/'",
        ),
        (
            "/h:/c:nocopy",
            "invalid volume specification: '/h:/c:nocopy': invalid mount config for type "
            '"bind": field VolumeOptions must not be specified',
        ),
        (
            "vol:/c:rshared",
            "invalid volume specification: 'vol:/c:rshared': invalid mount config for type "
            '"volume": field BindOptions must not be specified',
        ),
        (
            "a/b:/c",
            'create a/b: "a/b" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path",
        ),
        (
            "v:/c",
            "create v: volume name is too short, names should be at least two alphanumeric "
            "characters",
        ),
    ],
)
def test_bad_binds(bind, message):
    fails(req(host={"binds": [bind]}), message)


def test_relative_anonymous_volume():
    fails(
        req(volumes=["data"]),
        "invalid volume specification: 'data': invalid mount config for type \"volume\": "
        "invalid mount path: 'data' mount path must be absolute",
    )


@pytest.mark.parametrize(
    "mount,message",
    [
        ({"type": "bind", "source": "/h"}, "field Target must not be empty"),
        ({"type": "bind", "target": "/c"}, "field Source must not be empty"),
        (
            {"type": "bind", "source": "h", "target": "/c"},
            "invalid mount path: 'h' mount path must be absolute",
        ),
        (
            {"type": "bind", "source": "/h", "target": "/c", "bind_propagation": "x"},
            "invalid propagation mode: x",
        ),
        (
            {"type": "bind", "source": "/h", "target": "/c", "volume_no_copy": True},
            "field VolumeOptions must not be specified",
        ),
        (
            {"type": "volume", "target": "/c", "read_only": True},
            "must not set ReadOnly mode when using anonymous volumes",
        ),
        (
            {"type": "volume", "source": "v1", "target": "/c", "bind_propagation": "shared"},
            "field BindOptions must not be specified",
        ),
        ({"type": "tmpfs", "source": "x", "target": "/c"}, "field Source must not be specified"),
        ({"type": "nfs", "target": "/c"}, "mount type unknown"),
        (
            {"type": "bind", "source": "/h", "target": "/"},
            "invalid specification: destination can't be '/'",
        ),
    ],
)
def test_bad_mounts(mount, message):
    kind = mount["type"]
    fails(
        req(host={"mounts": [api.Mount(**mount)]}),
        f'invalid mount config for type "{kind}": {message}',
    )


def test_bind_source_must_exist_when_checked():
    r = req(host={"mounts": [api.Mount(type="bind", source="/nope", target="/c")]})
    fails(
        r,
        'invalid mount config for type "bind": bind source path does not exist: /nope',
        path_exists=lambda p: False,
    )
    merge(r, path_exists=lambda p: True)


def test_duplicate_mount_points():
    fails(req(host={"binds": ["/a:/x", "/b:/x/"]}), "Duplicate mount point: /x")
    fails(req(host={"binds": ["/a:/x"], "tmpfs": {"/x": ""}}), "Duplicate mount point: /x")
    fails(
        req(host={"binds": ["/a:/x"], "mounts": [api.Mount(type="tmpfs", target="/x/")]}),
        "Duplicate mount point: /x/",
    )


def test_tmpfs_destination_must_be_absolute():
    fails(req(host={"tmpfs": {"run": ""}}), "invalid mount path: 'run' mount path must be absolute")
    fails(req(host={"tmpfs": {"/": ""}}), "invalid specification: destination can't be '/'")


def _plan(r, image=BUSYBOX):
    cfg, hc, *_ = merge(r, image)
    counter = iter(range(100))
    return cs.plan_mounts(
        cfg,
        hc,
        volume_path=lambda n: f"/vols/{n}/_data",
        new_volume_name=lambda: f"anon{next(counter)}",
    )


def test_plan_mounts_as_inspect_shows_them():
    r = req(
        volumes=["/anon"],
        host={
            "binds": ["/h:/b", "/h2:/ro:ro,rshared", "named:/n", "nc:/nc:nocopy"],
            "mounts": [
                api.Mount(type="volume", source="mv", target="/mv"),
                api.Mount(type="bind", source="/x", target="/mb", read_only=True),
                api.Mount(type="tmpfs", target="/mt", tmpfs_size=1 << 20),
            ],
            "tmpfs": {"/var/cache/nginx": ""},
        },
    )
    points = {m.destination: m for m in _plan(r, NGINX)}
    assert list(points) == ["/b", "/ro", "/n", "/nc", "/mv", "/mb", "/mt", "/anon"]
    b = points["/b"]
    assert (b.type, b.source, b.mode, b.rw, b.propagation) == ("bind", "/h", "", True, "rprivate")
    ro = points["/ro"]
    assert (ro.mode, ro.rw, ro.propagation) == ("ro,rshared", False, "rshared")
    n = points["/n"]
    assert (n.type, n.name, n.source, n.driver, n.mode, n.copy_data, n.anonymous) == (
        "volume",
        "named",
        "/vols/named/_data",
        "local",
        "z",
        True,
        False,
    )
    assert points["/nc"].copy_data is False and points["/nc"].mode == "nocopy"
    assert points["/mv"].mode == "z" and points["/mv"].name == "mv"
    assert points["/mb"].mode == "" and not points["/mb"].rw
    assert points["/mt"].type == "tmpfs" and points["/mt"].tmpfs_size == 1 << 20
    anon = points["/anon"]
    assert (anon.name, anon.mode, anon.anonymous, anon.copy_data) == ("anon0", "", True, True)
    # The image's VOLUME is covered by --tmpfs: no anonymous volume for it.
    assert "/var/cache/nginx" not in points


def test_a_bind_covers_an_image_volume():
    points = _plan(req(host={"binds": ["/h:/var/cache/nginx"]}), NGINX)
    assert [(m.type, m.destination) for m in points] == [("bind", "/var/cache/nginx")]


# executor spec --------------------------------------------------------------------------------


def _record(r, image=BUSYBOX) -> ContainerRecord:
    cfg, hc, path, args = merge(r, image)
    rec = ContainerRecord(
        id=CID,
        name="web",
        created=0.0,
        image="img",
        image_id="sha256:" + "1" * 64,
        config=cfg,
        host_config=hc,
        path=path,
        args=args,
    )
    rec.mounts = cs.plan_mounts(cfg, hc, lambda n: "/v/" + n, lambda: "anon")
    return rec


def test_spec_process_env_and_cwd():
    spec = cs.executor_spec(_record(req(cmd=["env"], env=["A=1", "PATH=/bin"])), ["l1", "l2"])
    p = spec.process
    assert list(p.args) == ["env"] and p.cwd == "/"
    assert list(p.env) == ["PATH=/bin", f"HOSTNAME={CID[:12]}", "A=1"]
    assert list(spec.layers) == ["l1", "l2"] and spec.id == CID
    assert spec.hostname == CID[:12] and spec.network_mode == "bridge"
    assert spec.shm_size == 64 << 20
    assert (spec.log_max_size, spec.log_max_file) == (20_000_000, 5)
    assert not spec.init and spec.seccomp_profile == "" and not spec.rlimits


def test_spec_tty_term_and_unset():
    r = req(
        cmd=["sh"],
        tty=True,
        open_stdin=True,
        env=["HOSTNAME", "X=1"],
        user="nobody",
        working_dir="/tmp",
        host={"group_add": ["wheel"]},
    )
    p = cs.executor_spec(_record(r), []).process
    assert list(p.env) == [PATH_ENV, "TERM=xterm", "X=1"]
    assert p.tty and p.stdin and p.user == "nobody" and p.cwd == "/tmp"
    assert list(p.additional_groups) == ["wheel"]


def test_replace_or_append_env_keeps_dockers_quirks():
    assert cs.replace_or_append_env(["A=1", "B=2"], ["B=3", "C=1", "C=2", "A"]) == [
        "B=3",
        "C=1",
        "C=2",
    ]


def test_spec_mounts_sorted_parents_first():
    r = req(
        cmd=["sh"],
        volumes=["/data"],
        host={
            "binds": ["/h:/a/b/c:ro", "vol:/a"],
            "tmpfs": {"/a/b": "size=64m,mode=1777,exec"},
            "mounts": [api.Mount(type="tmpfs", target="/t", tmpfs_mode=0o700, read_only=True)],
        },
    )
    mounts = cs.executor_spec(_record(r), []).mounts
    assert [m.target for m in mounts] == ["/a", "/t", "/data", "/a/b", "/a/b/c"]
    a, t, data, ab, abc = mounts
    assert (a.type, a.source, a.seed, a.read_only) == ("volume", "vol", True, False)
    assert (data.type, data.source) == ("volume", "anon")
    assert (abc.type, abc.source, abc.read_only, abc.propagation) == (
        "bind",
        "/h",
        True,
        "rprivate",
    )
    assert (ab.tmpfs_size, ab.tmpfs_mode) == (64 << 20, 0o1777)
    assert list(ab.options) == ["nosuid", "nodev", "exec"] and not ab.read_only
    assert (
        t.read_only and t.tmpfs_mode == 0o700 and list(t.options) == ["noexec", "nosuid", "nodev"]
    )


def test_tmpfs_options_merge_like_docker():
    assert cs.tmpfs_options("") == (False, 0, 0, ["noexec", "nosuid", "nodev"])
    ro, size, mode, opts = cs.tmpfs_options("ro,size=1g,uid=1000,size=2k,suid")
    assert (ro, size, mode) == (True, 2048, 0)
    assert opts == ["noexec", "nodev", "uid=1000", "suid"]
    with pytest.raises(errors.InvalidArgument, match=r'^Invalid tmpfs option \["foo"\]$'):
        cs.tmpfs_options("foo")


def test_spec_resources_security_and_rest():
    profile = '{"defaultAction": "SCMP_ACT_ALLOW"}'
    r = req(
        cmd=["sh"],
        host={
            "memory": 8 << 20,
            "nano_cpus": 5 * 10**8,
            "cpu_shares": 512,
            "pids_limit": 20,
            "ulimits": [api.Ulimit(name="nofile", soft=100, hard=200)],
            "cap_add": ["sys_admin"],
            "cap_drop": ["chown"],
            "security_opt": ["no-new-privileges:true", f"seccomp={profile}"],
            "readonly_rootfs": True,
            "init": True,
            "extra_hosts": ["db:10.0.0.2", "v6:::1"],
            "dns": ["1.1.1.1"],
            "dns_search": ["example.com"],
            "log_config": api.LogConfig(config={"max-size": "1k", "max-file": "2"}),
        },
    )
    defaults = cs.Defaults(init=False, ulimits=(("nofile", 1, 2), ("nproc", 5, 6)))
    spec = cs.executor_spec(_record(r), [], defaults)
    res = spec.resources
    assert (res.memory, res.memory_swap, res.nano_cpus, res.cpu_shares, res.pids_limit) == (
        8 << 20,
        16 << 20,
        5 * 10**8,
        512,
        20,
    )
    assert [(x.name, x.soft, x.hard) for x in spec.rlimits] == [
        ("nofile", 100, 200),
        ("nproc", 5, 6),
    ]
    assert list(spec.cap_add) == ["CAP_SYS_ADMIN"] and list(spec.cap_drop) == ["CAP_CHOWN"]
    assert spec.no_new_privileges and spec.seccomp_profile == profile
    assert spec.readonly_rootfs and spec.init
    assert list(spec.extra_hosts) == ["10.0.0.2\tdb", "::1\tv6"]
    assert list(spec.dns) == ["1.1.1.1"] and list(spec.dns_search) == ["example.com"]
    assert (spec.log_max_size, spec.log_max_file) == (1000, 2)


def test_privileged_runs_unconfined_and_init_default_applies():
    spec = cs.executor_spec(
        _record(req(cmd=["sh"], host={"privileged": True})), [], cs.Defaults(init=True)
    )
    assert spec.privileged and spec.seccomp_profile == "unconfined" and spec.init


def test_volume_names():
    rec = _record(req(cmd=["sh"], volumes=["/d"], host={"binds": ["named:/n", "/h:/b"]}))
    assert cs.volume_names(rec) == ["named", "anon"]


def test_new_record_names_anonymous_volumes_and_warns():
    r = req(volumes=["/d"], host={"binds": ["named:/n"], "network_mode": "bridge"})
    r.config.image = "busybox:latest"
    rec, warnings = cs.new_record(
        CID,
        "web",
        r,
        "sha256:" + "1" * 64,
        {**BUSYBOX, "os": "linux"},
        1700000000.0,
        volume_path=lambda n: f"/vols/{n}/_data",
    )
    assert (rec.id, rec.name, rec.image, rec.created) == (
        CID,
        "web",
        "busybox:latest",
        1700000000.0,
    )
    assert (rec.path, rec.args, rec.platform) == ("sh", [], "linux")
    assert rec.state.status == "created" and rec.host_config.network_mode == "bridge"
    named, anon = rec.mounts
    assert named.source == "/vols/named/_data" and not named.anonymous
    assert anon.anonymous and len(anon.name) == 64 and rec.anonymous_volumes == [anon.name]
    assert warnings == []
    assert ContainerRecord.from_json(rec.to_json()) == rec


def test_new_record_fails_like_merge():
    with pytest.raises(errors.InvalidArgument, match="^No command specified$"):
        cs.new_record(CID, "web", req(), "sha256:1", {}, 0.0)


def test_exec_env_uses_the_execs_tty_and_overrides():
    rec = _record(req(cmd=["sh"], env=["A=1"], tty=True))
    assert cs.exec_env(rec, ["A=2", "B=1"], False) == [
        PATH_ENV,
        f"HOSTNAME={CID[:12]}",
        "A=2",
        "B=1",
    ]
    assert "TERM=xterm" in cs.exec_env(rec, [], True)


def test_container_network_mode_conflicts_as_docker():
    mode = {"network_mode": "container:web"}
    fails(req(hostname="h", host=mode), "conflicting options: hostname and the network mode")
    fails(
        req(exposed_ports=["80/tcp"], host=mode),
        "conflicting options: port exposing and the container type network mode",
    )
    _, hc, *_ = merge(req(host=mode))
    assert hc.network_mode == "container:web"
