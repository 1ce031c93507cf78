import json

from caisson.daemon import containerdoc, containerspec
from caisson.daemon.containerrecord import BoundPort, ContainerRecord, NetworkAttachment, State
from caisson_api.daemon.v1 import containers_pb2 as api

CID = "4f1c" + "a" * 60
IMAGE = {
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
        "Volumes": {"/data": {}},
        "ExposedPorts": {"80/tcp": {}},
    }
}


def _record(**host) -> ContainerRecord:
    r = api.CreateContainerRequest(config=api.ContainerConfig(image="busybox"))
    r.host_config.CopyFrom(api.HostConfig(**host))
    cfg, hc, path, args = containerspec.merge(r, IMAGE, container_id=CID)
    rec = ContainerRecord(
        id=CID,
        name="web",
        created=1700000000.5,
        image="busybox",
        image_id="sha256:" + "b" * 64,
        config=cfg,
        host_config=hc,
        path=path,
        args=args,
    )
    rec.mounts = containerspec.plan_mounts(
        cfg, hc, lambda n: f"/var/lib/caisson/volumes/{n}/_data", lambda: "v" * 64
    )
    return rec


def test_top_level_keys_in_dockers_order():
    doc = containerdoc.inspect(_record())
    assert list(doc) == [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "ResolvConfPath",
        "HostnamePath",
        "HostsPath",
        "LogPath",
        "Name",
        "RestartCount",
        "Driver",
        "Platform",
        "MountLabel",
        "ProcessLabel",
        "AppArmorProfile",
        "ExecIDs",
        "HostConfig",
        "GraphDriver",
        "Mounts",
        "Config",
        "NetworkSettings",
    ]
    assert doc["Id"] == CID and doc["Name"] == "/web"
    assert doc["Created"] == "2023-11-14T22:13:20.5Z"
    assert doc["Path"] == "sh" and doc["Args"] == []
    assert doc["Image"] == "sha256:" + "b" * 64
    assert doc["Driver"] == "overlay2" and doc["Platform"] == "linux"
    assert doc["ExecIDs"] is None and doc["ResolvConfPath"] == ""
    json.dumps(doc)


def test_state_of_a_created_and_an_exited_container():
    rec = _record()
    state = containerdoc.inspect(rec)["State"]
    assert state == {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "0001-01-01T00:00:00Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    rec.state = State(
        status="exited",
        exit_code=137,
        oom_killed=True,
        started_at=1700000000.123456789,
        finished_at=1700000060.0,
    )
    doc = containerdoc.inspect(rec, container_dir="/var/lib/caisson/containers/x")
    assert doc["State"]["StartedAt"].startswith("2023-11-14T22:13:20.123456")
    assert doc["State"]["FinishedAt"] == "2023-11-14T22:14:20Z"
    assert doc["State"]["OOMKilled"] and doc["State"]["ExitCode"] == 137
    assert doc["HostsPath"] == "/var/lib/caisson/containers/x/hosts"
    rec.state = State(status="paused", pid=42, started_at=1.0)
    s = containerdoc.inspect(rec)["State"]
    assert s["Running"] and s["Paused"] and s["Pid"] == 42


def test_config_section():
    rec = _record()
    rec.config.stop_timeout = 5
    c = containerdoc.inspect(rec)["Config"]
    assert list(c) == [
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "OnBuild",
        "Labels",
        "StopTimeout",
    ]
    assert c["Hostname"] == CID[:12] and c["ExposedPorts"] == {"80/tcp": {}}
    assert c["Cmd"] == ["sh"] and c["Entrypoint"] is None and c["OnBuild"] is None
    assert c["Volumes"] == {"/data": {}} and c["Labels"] == {} and c["StopTimeout"] == 5


def test_host_config_defaults_match_docker_20_10():
    hc = containerdoc.inspect(_record())["HostConfig"]
    assert hc["Binds"] is None and hc["CapAdd"] is None and hc["Ulimits"] is None
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "20m"}}
    assert hc["NetworkMode"] == "default" and hc["PortBindings"] == {}
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert hc["ShmSize"] == 67108864 and hc["PidsLimit"] is None
    assert hc["Dns"] == [] and hc["DnsSearch"] == [] and hc["DnsOptions"] == []
    assert (
        hc["MaskedPaths"][0] == "/proc/asound" and hc["ReadonlyPaths"][-1] == "/proc/sysrq-trigger"
    )
    assert "Tmpfs" not in hc and "Mounts" not in hc and "Init" not in hc
    keys = list(hc)
    assert keys.index("SecurityOpt") < keys.index("UTSMode") < keys.index("CpuShares")
    assert keys[-2:] == ["MaskedPaths", "ReadonlyPaths"]


def test_host_config_with_settings():
    hc = containerdoc.inspect(
        _record(
            binds=["/h:/b:ro"],
            tmpfs={"/run": "size=1m"},
            privileged=True,
            init=True,
            pids_limit=5,
            ulimits=[api.Ulimit(name="nofile", soft=1, hard=2)],
            mounts=[api.Mount(type="volume", source="v1", target="/v", volume_no_copy=True)],
        )
    )["HostConfig"]
    assert hc["Binds"] == ["/h:/b:ro"] and hc["Tmpfs"] == {"/run": "size=1m"}
    assert hc["Init"] is True and hc["PidsLimit"] == 5
    assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 2, "Soft": 1}]
    assert hc["Mounts"] == [
        {"Type": "volume", "Source": "v1", "Target": "/v", "VolumeOptions": {"NoCopy": True}}
    ]
    assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None
    assert list(hc)[-1] == "Init"


def test_mounts_as_docker_lists_them():
    mounts = containerdoc.inspect(_record(binds=["/h:/b:ro", "named:/n"]))["Mounts"]
    assert mounts == [
        {
            "Type": "bind",
            "Source": "/h",
            "Destination": "/b",
            "Mode": "ro",
            "RW": False,
            "Propagation": "rprivate",
        },
        {
            "Type": "volume",
            "Name": "named",
            "Source": "/var/lib/caisson/volumes/named/_data",
            "Destination": "/n",
            "Driver": "local",
            "Mode": "z",
            "RW": True,
            "Propagation": "",
        },
        {
            "Type": "volume",
            "Name": "v" * 64,
            "Source": f"/var/lib/caisson/volumes/{'v' * 64}/_data",
            "Destination": "/data",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
    ]


def test_network_settings_for_none_and_host():
    ns = containerdoc.inspect(_record(network_mode="none"))["NetworkSettings"]
    assert list(ns["Networks"]) == ["none"] and ns["IPAddress"] == "" and ns["Ports"] == {}
    assert list(ns["Networks"]["none"])[0] == "IPAMConfig"
    host = containerdoc.inspect(_record(network_mode="host"))["NetworkSettings"]
    assert list(host["Networks"]) == ["host"]


def _on_networks(rec: ContainerRecord, running: bool) -> ContainerRecord:
    bridge = NetworkAttachment("n" * 64, "bridge")
    user = NetworkAttachment("u" * 64, "mynet", ipv4_address="10.88.0.9", aliases=["db"])
    if running:
        rec.state = State(status="running", started_at=1700000000.0)
        bridge.address, bridge.prefix_len, bridge.gateway = "10.87.0.2", 16, "10.87.0.1"
        bridge.mac, bridge.endpoint_id = "02:42:0a:57:00:02", "e" * 64
        user.address, user.prefix_len, user.gateway = "10.88.0.9", 24, "10.88.0.1"
        rec.ports = [BoundPort("tcp", "0.0.0.0", 8080, 80)]
    rec.networks = [bridge, user]
    rec.config.exposed_ports[:] = ["80/tcp", "443/tcp"]
    return rec


def test_network_settings_of_a_running_container_on_two_networks():
    ns = containerdoc.inspect(_on_networks(_record(), running=True))["NetworkSettings"]
    # The legacy top-level fields are the default bridge's, as docker's.
    assert (ns["IPAddress"], ns["IPPrefixLen"], ns["Gateway"]) == ("10.87.0.2", 16, "10.87.0.1")
    assert ns["MacAddress"] == "02:42:0a:57:00:02" and ns["EndpointID"] == "e" * 64
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}
    assert list(ns["Networks"]) == ["bridge", "mynet"]
    bridge, user = ns["Networks"]["bridge"], ns["Networks"]["mynet"]
    assert bridge["Aliases"] is None and bridge["IPAMConfig"] is None
    assert user["Aliases"] == ["db", CID[:12]]
    assert user["IPAMConfig"] == {"IPv4Address": "10.88.0.9"} and user["IPAddress"] == "10.88.0.9"
    row = containerdoc.summary(_on_networks(_record(), running=True), now=1700000001.0)
    assert list(row.ports) == ["443/tcp", "0.0.0.0:8080->80/tcp"]
    assert list(row.networks) == ["bridge", "mynet"]


def test_network_settings_of_a_stopped_container_keep_the_networks_without_addresses():
    ns = containerdoc.inspect(_on_networks(_record(), running=False))["NetworkSettings"]
    assert (
        ns["IPAddress"] == ""
        and ns["Ports"] == {}
        and list(ns["Networks"])
        == [
            "bridge",
            "mynet",
        ]
    )
    assert ns["Networks"]["mynet"]["IPAddress"] == "" and ns["Networks"]["mynet"]["NetworkID"]
    row = containerdoc.summary(_on_networks(_record(), running=False), now=1700000001.0)
    assert list(row.ports) == []


def test_size_fields_only_when_asked():
    doc = containerdoc.inspect(_record(), size_rw=10, size_root_fs=20, exec_ids=["e1"])
    keys = list(doc)
    assert keys.index("GraphDriver") < keys.index("SizeRw") < keys.index("SizeRootFs")
    assert keys.index("SizeRootFs") < keys.index("Mounts") and doc["ExecIDs"] == ["e1"]


def test_rfc3339_nano():
    assert containerdoc.rfc3339_nano(0) == "0001-01-01T00:00:00Z"
    assert containerdoc.rfc3339_nano(86400) == "1970-01-02T00:00:00Z"
    assert containerdoc.rfc3339_nano(1.25) == "1970-01-01T00:00:01.25Z"


def test_summary_row():
    rec = _record(binds=["named:/n"])
    rec.config.labels["a"] = "b"
    rec.state = State(status="running", started_at=1700000000.0)
    row = containerdoc.summary(rec, now=1700000005.0)
    assert row.id == CID and list(row.names) == ["web"] and row.image == "busybox"
    assert row.command == "sh" and row.state == "running" and row.status == "Up 5 seconds"
    assert row.created.seconds == 1700000000 and dict(row.labels) == {"a": "b"}
    assert list(row.mounts) == ["named", "v" * 64] and list(row.networks) == []
