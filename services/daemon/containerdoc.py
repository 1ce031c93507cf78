"""Docker-shaped documents for containers: `inspect` (docker 20.10's ContainerJSON, keys in
its order, its defaults for what Caisson does not set) and the `ps` summary."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import Any

from google.protobuf import timestamp_pb2

from caisson.daemon import humanize
from caisson.daemon.containerrecord import ContainerRecord, MountPoint, NetworkAttachment
from caisson.ocidefaults import MASKED_PATHS, READONLY_PATHS
from caisson_api.daemon.v1 import containers_pb2 as api

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(ts: float) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped; 0 is Go's zero
    time."""
    if not ts:
        return ZERO_TIME
    whole = int(ts)
    nanos = round((ts - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    base = datetime.datetime.fromtimestamp(whole, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def inspect(
    record: ContainerRecord,
    *,
    container_dir: str = "",
    exec_ids: Iterable[str] = (),
    size_rw: int | None = None,
    size_root_fs: int | None = None,
) -> dict[str, Any]:
    """`docker inspect CONTAINER`. `container_dir` holds the container's hostname, hosts
    and resolv.conf once it has started."""
    st = record.state
    started = bool(st.started_at)
    doc: dict[str, Any] = {
        "Id": record.id,
        "Created": rfc3339_nano(record.created),
        "Path": record.path,
        "Args": list(record.args),
        "State": {
            "Status": st.status,
            "Running": st.running,
            "Paused": st.status == "paused",
            "Restarting": st.status == "restarting",
            "OOMKilled": st.oom_killed,
            "Dead": st.status == "dead",
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": rfc3339_nano(st.started_at),
            "FinishedAt": rfc3339_nano(st.finished_at),
        },
        "Image": record.image_id,
        "ResolvConfPath": _file(container_dir, "resolv.conf", started),
        "HostnamePath": _file(container_dir, "hostname", started),
        "HostsPath": _file(container_dir, "hosts", started),
        "LogPath": record.log_path,
        "Name": "/" + record.name,
        "RestartCount": record.restart_count,
        "Driver": "overlay2",
        "Platform": record.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": list(exec_ids) or None,
        "HostConfig": host_config(record.host_config),
        "GraphDriver": {
            "Data": {"MergedDir": record.rootfs} if record.rootfs else None,
            "Name": "overlay2",
        },
    }
    if size_rw is not None:
        doc["SizeRw"] = size_rw
    if size_root_fs is not None:
        doc["SizeRootFs"] = size_root_fs
    doc["Mounts"] = [mount_point(m) for m in record.mounts]
    doc["Config"] = config(record.config)
    doc["NetworkSettings"] = network_settings(record)
    return doc


def _file(container_dir: str, name: str, started: bool) -> str:
    return os.path.join(container_dir, name) if container_dir and started else ""


def mount_point(m: MountPoint) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": m.type}
    if m.name:
        doc["Name"] = m.name
    doc["Source"] = m.source
    doc["Destination"] = m.destination
    if m.driver:
        doc["Driver"] = m.driver
    doc["Mode"] = m.mode
    doc["RW"] = m.rw
    doc["Propagation"] = m.propagation
    return doc


def _list_or_none(values: Iterable[str]) -> list[str] | None:
    out = list(values)
    return out or None


def _string_list(cfg: api.ContainerConfig, name: str) -> list[str] | None:
    if not cfg.HasField(name):
        return None
    return list(getattr(cfg, name).values)


def config(cfg: api.ContainerConfig) -> dict[str, Any]:
    """docker's container Config, in its key order (omitempty keys left out when empty)."""
    doc: dict[str, Any] = {
        "Hostname": cfg.hostname,
        "Domainname": cfg.domainname,
        "User": cfg.user,
        "AttachStdin": cfg.attach_stdin,
        "AttachStdout": cfg.attach_stdout,
        "AttachStderr": cfg.attach_stderr,
    }
    if cfg.exposed_ports:
        doc["ExposedPorts"] = {p: {} for p in sorted(cfg.exposed_ports)}
    doc.update(
        {
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": cfg.stdin_once,
            "Env": list(cfg.env) or None,
            "Cmd": _string_list(cfg, "cmd"),
            "Image": cfg.image,
            "Volumes": {v: {} for v in sorted(cfg.volumes)} or None,
            "WorkingDir": cfg.working_dir,
            "Entrypoint": _string_list(cfg, "entrypoint"),
            "OnBuild": None,
            "Labels": dict(sorted(cfg.labels.items())),
        }
    )
    if cfg.stop_signal:
        doc["StopSignal"] = cfg.stop_signal
    if cfg.HasField("stop_timeout"):
        doc["StopTimeout"] = cfg.stop_timeout
    return doc


def host_config(hc: api.HostConfig) -> dict[str, Any]:
    """docker 20.10's HostConfig, in its key order, with its defaults for the settings
    Caisson does not have."""
    doc: dict[str, Any] = {
        "Binds": _list_or_none(hc.binds),
        "ContainerIDFile": "",
        "LogConfig": {
            "Type": hc.log_config.type or "json-file",
            "Config": dict(sorted(hc.log_config.config.items())),
        },
        "NetworkMode": hc.network_mode or "none",
        "PortBindings": {
            port: [{"HostIp": b.host_ip, "HostPort": b.host_port} for b in pb.bindings]
            for port, pb in sorted(hc.port_bindings.items())
        },
        "RestartPolicy": {
            "Name": hc.restart_policy.name or "no",
            "MaximumRetryCount": hc.restart_policy.maximum_retry_count,
        },
        "AutoRemove": hc.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": _list_or_none(hc.cap_add),
        "CapDrop": _list_or_none(hc.cap_drop),
        # Every container gets its own cgroup namespace.
        "CgroupnsMode": "private",
        "Dns": list(hc.dns),
        "DnsOptions": list(hc.dns_options),
        "DnsSearch": list(hc.dns_search),
        "ExtraHosts": _list_or_none(hc.extra_hosts),
        "GroupAdd": _list_or_none(hc.group_add),
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": hc.privileged,
        "PublishAllPorts": hc.publish_all_ports,
        "ReadonlyRootfs": hc.readonly_rootfs,
        "SecurityOpt": _list_or_none(hc.security_opt),
    }
    if hc.tmpfs:
        doc["Tmpfs"] = dict(sorted(hc.tmpfs.items()))
    doc.update(
        {
            "UTSMode": "",
            "UsernsMode": "",
            "ShmSize": hc.shm_size,
            "Runtime": "caisson",
            "ConsoleSize": [0, 0],
            "Isolation": "",
            "CpuShares": hc.cpu_shares,
            "Memory": hc.memory,
            "NanoCpus": hc.nano_cpus,
            "CgroupParent": "",
            "BlkioWeight": 0,
            "BlkioWeightDevice": [],
            "BlkioDeviceReadBps": None,
            "BlkioDeviceWriteBps": None,
            "BlkioDeviceReadIOps": None,
            "BlkioDeviceWriteIOps": None,
            "CpuPeriod": 0,
            "CpuQuota": 0,
            "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0,
            "CpusetCpus": hc.cpuset_cpus,
            "CpusetMems": "",
            "Devices": [],
            "DeviceCgroupRules": None,
            "DeviceRequests": None,
            "KernelMemory": 0,
            "KernelMemoryTCP": 0,
            "MemoryReservation": 0,
            "MemorySwap": hc.memory_swap,
            "MemorySwappiness": None,
            "OomKillDisable": False,
            "PidsLimit": hc.pids_limit if hc.HasField("pids_limit") else None,
            "Ulimits": [{"Name": u.name, "Hard": u.hard, "Soft": u.soft} for u in hc.ulimits]
            or None,
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
        }
    )
    if hc.mounts:
        doc["Mounts"] = [_mount_spec(m) for m in hc.mounts]
    doc["MaskedPaths"] = None if hc.privileged else list(MASKED_PATHS)
    doc["ReadonlyPaths"] = None if hc.privileged else list(READONLY_PATHS)
    if hc.HasField("init"):
        doc["Init"] = hc.init
    return doc


def _mount_spec(m: api.Mount) -> dict[str, Any]:
    """An api/types/mount.Mount as docker echoes --mount back (omitempty fields left out)."""
    doc: dict[str, Any] = {"Type": m.type}
    if m.source:
        doc["Source"] = m.source
    doc["Target"] = m.target
    if m.read_only:
        doc["ReadOnly"] = True
    if m.bind_propagation:
        doc["BindOptions"] = {"Propagation": m.bind_propagation}
    if m.volume_no_copy or m.volume_labels:
        volume: dict[str, Any] = {}
        if m.volume_no_copy:
            volume["NoCopy"] = True
        if m.volume_labels:
            volume["Labels"] = dict(sorted(m.volume_labels.items()))
        doc["VolumeOptions"] = volume
    if m.tmpfs_size or m.tmpfs_mode:
        tmpfs: dict[str, Any] = {}
        if m.tmpfs_size:
            tmpfs["SizeBytes"] = m.tmpfs_size
        if m.tmpfs_mode:
            tmpfs["Mode"] = m.tmpfs_mode
        doc["TmpfsOptions"] = tmpfs
    return doc


def network_settings(record: ContainerRecord) -> dict[str, Any]:
    """docker's NetworkSettings: one entry per network (none and host have no addresses);
    the top-level address fields are the default bridge's, as docker's legacy fields."""
    running = record.state.status in ("running", "paused", "restarting")
    mode = record.host_config.network_mode or "none"
    networks: dict[str, Any] = {}
    if mode in ("none", "host"):
        networks[mode] = _endpoint_doc(NetworkAttachment("", mode), "")
    for att in record.networks:
        networks[att.network_name] = _endpoint_doc(att, record.short_id)
    bridge = next((a for a in record.networks if a.network_name == "bridge"), None)
    legacy = bridge or NetworkAttachment("", "")
    ports: dict[str, Any] = {}
    if running and record.networks:
        for p in record.config.exposed_ports:
            ports[p if "/" in p else p + "/tcp"] = None
        for b in record.ports:
            key = f"{b.container_port}/{b.protocol}"
            ports[key] = (ports.get(key) or []) + [
                {"HostIp": b.host_ip, "HostPort": str(b.host_port)}
            ]
    return {
        "Bridge": "",
        "SandboxID": record.id if running and record.networks else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SandboxKey": "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": legacy.endpoint_id,
        "Gateway": legacy.gateway,
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": legacy.address,
        "IPPrefixLen": legacy.prefix_len,
        "IPv6Gateway": "",
        "MacAddress": legacy.mac,
        "Networks": networks,
    }


def _endpoint_doc(att: NetworkAttachment, short_id: str) -> dict[str, Any]:
    # docker adds the short id to the aliases on user networks (it resolves there too).
    user = att.network_id and att.network_name not in ("bridge", "none", "host")
    return {
        "IPAMConfig": {"IPv4Address": att.ipv4_address} if att.ipv4_address else None,
        "Links": None,
        "Aliases": list(dict.fromkeys([*att.aliases, short_id])) if user else None,
        "NetworkID": att.network_id,
        "EndpointID": att.endpoint_id,
        "Gateway": att.gateway,
        "IPAddress": att.address,
        "IPPrefixLen": att.prefix_len,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": att.mac,
        "DriverOpts": None,
    }


def port_strings(record: ContainerRecord) -> list[str]:
    """`ps`'s PORTS pieces (joined with ", "), while it runs: docker's DisplayablePorts,
    consecutive ports grouped ("80-81/tcp", "0.0.0.0:8000-8001->8000-8001/tcp") and mappings
    to another port number ("0.0.0.0:8080->80/tcp") last."""
    if record.state.status not in ("running", "paused", "restarting") or not record.networks:
        return []
    # (private port, host IP, public port, type) as docker's types.Port.
    ports = [(b.container_port, b.host_ip, b.host_port, b.protocol) for b in record.ports]
    published = {(b.container_port, b.protocol) for b in record.ports}
    for p in record.config.exposed_ports:
        number, _, proto = p.partition("/")
        if number.isdigit() and (int(number), proto or "tcp") not in published:
            ports.append((int(number), "", 0, proto or "tcp"))
    ports.sort()
    groups: dict[str, list[int]] = {}  # key -> [first, last], in the order keys appear
    result: list[str] = []
    mappings: list[str] = []
    for private, ip, public, proto in ports:
        key = proto
        if ip:
            if public != private:
                mappings.append(f"{_host_port(ip, public)}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_port_group(key, *group))
            groups[key] = [private, private]  # keeps its place: docker's keys in first-seen order
    result += [_port_group(key, first, last) for key, (first, last) in groups.items()]
    return result + mappings


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{group}->{group}/{proto}" if ip else f"{group}/{proto}"


def network_names(record: ContainerRecord) -> list[str]:
    mode = record.host_config.network_mode or "none"
    if mode in ("none", "host"):
        return [mode]
    return [att.network_name for att in record.networks]


def summary(record: ContainerRecord, now: float) -> api.ContainerSummary:
    """One `ps` row (docker's types.Container)."""
    created = timestamp_pb2.Timestamp()
    created.FromNanoseconds(int(record.created * 1e9))
    return api.ContainerSummary(
        id=record.id,
        names=[record.name],
        image=record.image,
        image_id=record.image_id,
        command=humanize.command_column(record.path, record.args),
        created=created,
        state=record.state.status,
        status=humanize.state_string(record.state, now),
        labels=dict(record.config.labels),
        mounts=[m.name or m.source for m in record.mounts],
        networks=network_names(record),
        ports=port_strings(record),
    )
