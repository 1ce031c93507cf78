"""From `create`'s request to what runs: docker's rules, transport-free.

`merge` turns the request and the image's config into the effective Config and HostConfig
(docker's merge, verifyContainerSettings and adaptContainerSettings, with its messages);
`plan_mounts` resolves -v, --mount and the image's VOLUMEs into mount points (naming the
anonymous volumes once, at create); `executor_spec` turns a record into the executor's spec
(docker's oci_linux.go: default env, cwd, tmpfs options, mount order).
"""

from __future__ import annotations

import ipaddress
import json
import os
import posixpath
import re
import signal as _signal
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from caisson import errors
from caisson.daemon import humanize, names
from caisson.daemon.containerrecord import ContainerRecord, MountPoint
from caisson_api.daemon.v1 import containers_pb2 as api
from caisson_api.executor.v1 import containers_pb2 as ex

DEFAULT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
# Log rotation is on by default (docker's json-file keeps one unbounded file).
DEFAULT_LOG_OPTS: Mapping[str, str] = {"max-size": "20m", "max-file": "5"}
LOG_DRIVER = "json-file"
_LOG_OPTS = (
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
)
MIN_MEMORY = 6 * 1024 * 1024  # docker's linuxMinMemory
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144

# go-units ulimit names.
ULIMITS = (
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip

# Linux capabilities, as --cap-add/--cap-drop name them.
CAPABILITIES = frozenset((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
))  # fmt: skip

_RW_MODES = {"rw", "ro"}
_LABEL_MODES = {"z", "Z"}
PROPAGATIONS = ("private", "rprivate", "slave", "rslave", "shared", "rshared")
_CONSISTENCY_MODES = {"consistent", "cached", "delegated"}
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


# signals ------------------------------------------------------------------------------------


def _signal_names() -> dict[str, int]:
    table = {
        s.name.removeprefix("SIG"): int(s)
        for s in _signal.Signals
        if not s.name.startswith("SIG_") and s.name.startswith("SIG")
    }
    lo, hi = int(_signal.SIGRTMIN), int(_signal.SIGRTMAX)
    table["RTMIN"], table["RTMAX"] = lo, hi
    for n in range(1, hi - lo):
        table[f"RTMIN+{n}"] = lo + n
        table[f"RTMAX-{n}"] = hi - n
    return table


SIGNALS = _signal_names()


def parse_signal(text: str) -> int:
    """docker's signal.ParseSignal: a number, or a name with or without "SIG", any case."""
    if re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        if number == 0:
            raise errors.InvalidArgument(f"Invalid signal: {text}")
        return number
    number = SIGNALS.get(text.upper().removeprefix("SIG"))
    if number is None:
        raise errors.InvalidArgument(f"Invalid signal: {text}")
    return number


# merge --------------------------------------------------------------------------------------


def merge(
    request: api.CreateContainerRequest,
    image_config: Mapping[str, object],
    *,
    container_id: str,
    host_hostname: str | None = None,
    log_defaults: Mapping[str, str] = DEFAULT_LOG_OPTS,
    path_exists: Callable[[str], bool] | None = None,
) -> tuple[api.ContainerConfig, api.HostConfig, str, list[str]]:
    """The effective Config and HostConfig (as `inspect` shows them), the process path and
    its args. Raises InvalidArgument (NotFound for an unknown network) with docker's words.

    `path_exists`, when given, checks `--mount type=bind` sources as docker does; `-v`
    sources need not exist (the executor creates them, like docker)."""
    cfg = api.ContainerConfig()
    cfg.CopyFrom(request.config)
    hc = api.HostConfig()
    hc.CopyFrom(request.host_config)
    image = image_config.get("config") or {}
    if not isinstance(image, Mapping):
        image = {}

    _split_anonymous_binds(cfg, hc)
    _validate_container_network(cfg, hc)
    _validate_config(cfg)
    _validate_host_config(hc, path_exists)
    _adapt_host_config(hc, log_defaults)
    path, args = _merge_image(cfg, image)

    if not cfg.hostname:
        if hc.network_mode == "host":
            cfg.hostname = host_hostname if host_hostname is not None else socket.gethostname()
        else:
            cfg.hostname = container_id[:12]
    # The mounts parse now so that a bad -v fails the create, not the start.
    plan_mounts(cfg, hc, volume_path=lambda name: name, new_volume_name=lambda: "")
    return cfg, hc, path, args


def new_record(
    container_id: str,
    name: str,
    request: api.CreateContainerRequest,
    image_id: str,
    image_config: Mapping[str, object],
    now: float,
    *,
    volume_path: Callable[[str], str] = lambda name: "",
    host_hostname: str | None = None,
    log_defaults: Mapping[str, str] = DEFAULT_LOG_OPTS,
    path_exists: Callable[[str], bool] | None = None,
) -> tuple[ContainerRecord, list[str]]:
    """A created container's record (merged config, mount points with the anonymous
    volumes named) and docker-like warnings for what was adjusted. `volume_path(name)` is a
    volume's directory on the host, shown as its mount's Source."""
    cfg, hc, path, args = merge(
        request,
        image_config,
        container_id=container_id,
        host_hostname=host_hostname,
        log_defaults=log_defaults,
        path_exists=path_exists,
    )
    warnings = []
    if hc.network_mode == "host" and hc.port_bindings:
        warnings.append("Published ports are discarded when using host network mode")
    record = ContainerRecord(
        id=container_id,
        name=name,
        created=now,
        image=request.config.image,
        image_id=image_id,
        config=cfg,
        host_config=hc,
        path=path,
        args=args,
        platform=str(image_config.get("os") or "linux"),
    )
    record.mounts = plan_mounts(cfg, hc, volume_path, path_exists=path_exists)
    record.anonymous_volumes = [m.name for m in record.mounts if m.anonymous]
    return record, warnings


def _split_anonymous_binds(cfg: api.ContainerConfig, hc: api.HostConfig) -> None:
    """`-v /path` is an anonymous volume: docker's CLI puts it in Config.Volumes."""
    binds = []
    for raw in hc.binds:
        if ":" in raw:
            binds.append(raw)
        elif raw not in cfg.volumes:
            cfg.volumes.append(raw)
    if len(binds) != len(hc.binds):
        del hc.binds[:]
        hc.binds.extend(binds)


def _validate_config(cfg: api.ContainerConfig) -> None:
    if cfg.working_dir and not posixpath.isabs(cfg.working_dir):
        raise errors.InvalidArgument(
            f"the working directory '{cfg.working_dir}' is invalid, it needs to be an absolute path"
        )
    if cfg.stop_signal:
        parse_signal(cfg.stop_signal)
    for env in cfg.env:
        if not env.partition("=")[0].strip():
            raise errors.InvalidArgument(f"invalid environment variable: {env}")


def _validate_host_config(hc: api.HostConfig, path_exists: Callable[[str], bool] | None) -> None:
    policy = hc.restart_policy.name
    if hc.auto_remove and policy not in ("", "no"):
        raise errors.InvalidArgument("Conflicting options: --restart and --rm")
    for m in hc.mounts:
        parse_mount(m, path_exists)
    for host in hc.extra_hosts:
        extra_host_line(host)
    for server in hc.dns:
        _validate_ip(server, f"{server} is not an ip address")
    retries = hc.restart_policy.maximum_retry_count
    if policy in ("always", "unless-stopped", "no"):
        if retries != 0:
            raise errors.InvalidArgument(
                f"maximum retry count cannot be used with restart policy '{policy}'"
            )
    elif policy == "on-failure":
        if retries < 0:
            raise errors.InvalidArgument("maximum retry count cannot be negative")
    elif policy != "":
        raise errors.InvalidArgument(f"invalid restart policy '{policy}'")
    # docker's verifyPlatformContainerSettings
    if hc.shm_size < 0:
        raise errors.InvalidArgument("SHM size can not be less than 0")
    if hc.memory != 0 and hc.memory < MIN_MEMORY:
        raise errors.InvalidArgument("Minimum memory limit allowed is 6MB")
    if hc.memory_swap > 0 and hc.memory == 0:
        raise errors.InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if hc.memory > 0 and 0 < hc.memory_swap < hc.memory:
        raise errors.InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    ncpu = os.cpu_count() or 1
    if hc.nano_cpus < 0 or hc.nano_cpus > ncpu * 10**9:
        raise errors.InvalidArgument(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    if hc.cpuset_cpus:
        _validate_cpuset(hc.cpuset_cpus)
    for dest in hc.tmpfs:
        _validate_target(dest)
    for u in hc.ulimits:
        validate_ulimit(u.name, u.soft, u.hard)
    for flag, caps in (("CapAdd", hc.cap_add), ("CapDrop", hc.cap_drop)):
        for cap in caps:
            try:
                normalize_capability(cap)
            except errors.InvalidArgument as e:
                # docker's oci.NormalizeLegacyCapabilities names the list.
                raise errors.InvalidArgument(f"invalid {flag}: {e}") from None
    parse_security_opts(hc.security_opt)


def _adapt_host_config(hc: api.HostConfig, log_defaults: Mapping[str, str]) -> None:
    """docker's adaptContainerSettings and mergeAndVerifyLogConfig: the defaults inspect
    shows."""
    if not hc.restart_policy.name:
        hc.restart_policy.name = "no"
    if hc.shm_size == 0:
        hc.shm_size = DEFAULT_SHM_SIZE
    if hc.memory > 0 and hc.memory_swap == 0:
        hc.memory_swap = hc.memory * 2
    if hc.cpu_shares < 0:
        hc.cpu_shares = MIN_CPU_SHARES
    elif hc.cpu_shares > MAX_CPU_SHARES:
        hc.cpu_shares = MAX_CPU_SHARES
    if hc.HasField("pids_limit") and hc.pids_limit <= 0:
        hc.ClearField("pids_limit")  # 0 and -1 both mean unlimited
    if not hc.network_mode:
        hc.network_mode = "default"
    hc.cap_add[:] = [normalize_capability(c) for c in hc.cap_add]
    hc.cap_drop[:] = [normalize_capability(c) for c in hc.cap_drop]
    log = hc.log_config
    if not log.type:
        log.type = LOG_DRIVER
    if log.type != LOG_DRIVER:
        raise errors.InvalidArgument(f"logger: no log driver named '{log.type}' is registered")
    for key, value in log_defaults.items():
        log.config.setdefault(key, value)
    log_limits(log.config)


def _merge_image(cfg: api.ContainerConfig, image: Mapping[str, object]) -> tuple[str, list[str]]:
    """docker's merge(userConf, imageConf) and mergeAndVerifyConfig."""
    if not cfg.user:
        cfg.user = str(image.get("User") or "")
    ports = [_port(p) for p in cfg.exposed_ports]
    for p in _keys(image.get("ExposedPorts")):
        if _port(p) not in ports:
            ports.append(_port(p))
    cfg.exposed_ports[:] = ports
    # The user's variables first, then the image's that the user did not set (docker's order).
    user_keys = {e.partition("=")[0] for e in cfg.env}
    image_env = _strings(image.get("Env")) or []
    cfg.env.extend(e for e in image_env if e.partition("=")[0] not in user_keys)
    labels = image.get("Labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            cfg.labels.setdefault(str(key), str(value))
    entrypoint = list(cfg.entrypoint.values) if cfg.HasField("entrypoint") else None
    cmd = list(cfg.cmd.values) if cfg.HasField("cmd") else None
    if not entrypoint:
        if not cmd:
            cmd = _strings(image.get("Cmd"))
        if entrypoint is None:
            entrypoint = _strings(image.get("Entrypoint"))
    if not cfg.working_dir:
        cfg.working_dir = str(image.get("WorkingDir") or "")
    for v in _keys(image.get("Volumes")):
        if v not in cfg.volumes:
            cfg.volumes.append(v)
    if not cfg.stop_signal:
        cfg.stop_signal = str(image.get("StopSignal") or "")
    # `--entrypoint ""` clears the entrypoint.
    if entrypoint == [""]:
        entrypoint = None
    if not entrypoint and not cmd:
        raise errors.InvalidArgument("No command specified")
    _set_list(cfg, "entrypoint", entrypoint)
    _set_list(cfg, "cmd", cmd)
    if entrypoint:
        return entrypoint[0], [*entrypoint[1:], *(cmd or [])]
    assert cmd
    return cmd[0], cmd[1:]


def _strings(value: object) -> list[str] | None:
    """An image config list (Cmd, Entrypoint, Env); null stays None."""
    if not isinstance(value, list):
        return None
    return [str(v) for v in value]


def _keys(value: object) -> list[str]:
    """The keys of an image config set (Volumes, ExposedPorts: {"KEY": {}})."""
    return [str(k) for k in value] if isinstance(value, Mapping) else []


def _set_list(cfg: api.ContainerConfig, name: str, values: list[str] | None) -> None:
    if values is None:
        cfg.ClearField(name)
        return
    target = getattr(cfg, name)
    target.SetInParent()
    target.values[:] = values


def _port(p: str) -> str:
    return p if "/" in p else p + "/tcp"


def _validate_ip(text: str, message: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise errors.InvalidArgument(message) from None


def extra_host_line(spec: str) -> str:
    """--add-host NAME:IP as an /etc/hosts line, with docker's checks."""
    host, sep, ip = spec.partition(":")
    if not sep or not host:
        raise errors.InvalidArgument(f'bad format for add-host: "{spec}"')
    _validate_ip(ip.strip("[]"), f'invalid IP address in add-host: "{ip}"')
    return f"{ip.strip('[]')}\t{host}"


def _validate_cpuset(spec: str) -> None:
    wanted: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise errors.InvalidArgument(
                f"Invalid value {spec} for cpuset cpus: invalid format: {spec}"
            )
        lo = int(m.group(1))
        wanted.update(range(lo, int(m.group(2) or lo) + 1))
    available = sorted(os.sched_getaffinity(0))
    if not wanted <= set(available):
        raise errors.InvalidArgument(
            f"Requested CPUs are not available - requested {spec}, available: {_ranges(available)}"
        )


def _ranges(cpus: list[int]) -> str:
    out: list[str] = []
    for c in cpus:
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == c - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{c}"
        elif out and "-" not in out[-1] and int(out[-1]) == c - 1:
            out[-1] = f"{out[-1]}-{c}"
        else:
            out.append(str(c))
    return ",".join(out)


def validate_ulimit(name: str, soft: int, hard: int) -> None:
    if name not in ULIMITS:
        raise errors.InvalidArgument(f"invalid ulimit type: {name}")
    if soft > hard:
        raise errors.InvalidArgument(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )


def normalize_capability(cap: str) -> str:
    """ "net_admin" and "CAP_NET_ADMIN" are the same; "ALL" stays."""
    upper = cap.upper()
    if upper == "ALL":
        return upper
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in CAPABILITIES:
        raise errors.InvalidArgument(f'unknown capability: "{upper}"')
    return upper


@dataclass
class SecurityOpts:
    no_new_privileges: bool = False
    # "" (the default profile), "unconfined" or a profile's JSON text.
    seccomp: str = ""
    apparmor: str = ""
    labels: list[str] = field(default_factory=list)


def parse_security_opts(opts: Iterable[str]) -> SecurityOpts:
    """docker's parseSecurityOpt. The CLI reads `seccomp=FILE` and sends the file's JSON
    text (as docker's does): the daemon never reads client-side paths."""
    out = SecurityOpts()
    for opt in opts:
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        if opt == "disable":
            out.labels.append("disable")
            continue
        if "=" in opt:
            key, _, value = opt.partition("=")
        elif ":" in opt:
            key, _, value = opt.partition(":")
        else:
            raise errors.InvalidArgument(f'invalid --security-opt 1: "{opt}"')
        if key == "label":
            out.labels.append(value)
        elif key == "apparmor":
            out.apparmor = value
        elif key == "seccomp":
            out.seccomp = _seccomp(value)
        elif key == "no-new-privileges":
            flag = _parse_bool(value)
            if flag is None:
                raise errors.InvalidArgument(f'invalid --security-opt 2: "{opt}"')
            out.no_new_privileges = flag
        else:
            raise errors.InvalidArgument(f'invalid --security-opt 2: "{opt}"')
    return out


def _seccomp(value: str) -> str:
    if value in ("unconfined", ""):
        return value
    if value == "builtin":
        return ""
    try:
        profile = json.loads(value)
    except ValueError as e:
        raise errors.InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(profile, dict):
        raise errors.InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    return value


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def network_mode(mode: str) -> str:
    """The executor's mode for a HostConfig.NetworkMode: the default bridge and user
    networks alike are "bridge" (a namespace of its own with endpoints); "container:X" is
    passed on (the caller resolves X to an id)."""
    if mode in ("none", "host") or mode.startswith("container:"):
        return mode
    return "bridge"


def user_network(mode: str) -> bool:
    """docker's IsUserDefined: a network other than the predefined ones."""
    return network_mode(mode) == "bridge" and mode not in ("", "default", "bridge")


def _validate_container_network(cfg: api.ContainerConfig, hc: api.HostConfig) -> None:
    """docker's validateNetContainerMode, in its order: with --network container:NAME the
    joined container decides the name, DNS, hosts and ports."""
    mode = hc.network_mode
    if not mode.startswith("container:"):
        return
    if not mode.partition(":")[2]:
        raise errors.InvalidArgument(
            "Invalid network mode: invalid container format container:<name|id>"
        )
    conflicts = (
        (cfg.hostname, "hostname and the network mode"),
        (hc.dns, "dns and the network mode"),
        (hc.extra_hosts, "custom host-to-IP mapping and the network mode"),
        (
            hc.port_bindings or hc.publish_all_ports,
            "port publishing and the container type network mode",
        ),
        (cfg.exposed_ports, "port exposing and the container type network mode"),
    )
    for given, words in conflicts:
        if given:
            raise errors.InvalidArgument(f"conflicting options: {words}")


def log_limits(config: Mapping[str, str]) -> tuple[int, int]:
    """json-file's max-size (bytes, 0 = unbounded) and max-file, validated as docker."""
    for key in config:
        if key not in _LOG_OPTS:
            raise errors.InvalidArgument(f"unknown log opt '{key}' for {LOG_DRIVER} log driver")
    max_size = 0
    if "max-size" in config:
        max_size = humanize.from_human_size(config["max-size"])
    max_file = 1
    if "max-file" in config:
        text = config["max-file"]
        if not re.fullmatch(r"[+-]?\d+", text):
            raise errors.InvalidArgument(f'strconv.Atoi: parsing "{text}": invalid syntax')
        max_file = int(text)
        if max_file < 1:
            raise errors.InvalidArgument("max-file cannot be less than 1")
    return max_size, max_file


# mounts -------------------------------------------------------------------------------------


def _valid_mode(mode: str) -> bool:
    """docker's linuxValidMountMode: at most one of each kind of option."""
    if mode == "":
        return True
    counts = {"rw": 0, "label": 0, "propagation": 0, "copy": 0, "consistency": 0}
    for o in mode.split(","):
        if o in _RW_MODES:
            counts["rw"] += 1
        elif o in _LABEL_MODES:
            counts["label"] += 1
        elif o in PROPAGATIONS:
            counts["propagation"] += 1
        elif o == "nocopy":
            counts["copy"] += 1
        elif o in _CONSISTENCY_MODES:
            counts["consistency"] += 1
        else:
            return False
    return all(n <= 1 for n in counts.values())


def _validate_target(target: str) -> None:
    if posixpath.normpath(target.replace("\\", "/")) in ("/", "//"):
        raise errors.InvalidArgument("invalid specification: destination can't be '/'")
    if not posixpath.isabs(target.replace("\\", "/")):
        raise errors.InvalidArgument(f"invalid mount path: '{target}' mount path must be absolute")


def _clean(p: str) -> str:
    cleaned = posixpath.normpath(p)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _mount_config_error(kind: str, message: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f'invalid mount config for type "{kind}": {message}')


def parse_bind(raw: str) -> MountPoint:
    """One -v spec (docker's ParseMountRaw): "DEST", "SRC:DEST" or "SRC:DEST:MODE"; SRC an
    absolute host path (a bind) or a volume name."""
    invalid = f"invalid volume specification: '{raw}'"
    arr = raw.split(":", 3)
    if arr[0] == "":
        raise errors.InvalidArgument(invalid)
    source, mode = "", ""
    if len(arr) == 1:
        target = arr[0]
    elif len(arr) == 2:
        if _valid_mode(arr[1]):
            raise errors.InvalidArgument(invalid)  # "/foo:rw": a mode, no destination
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise errors.InvalidArgument(invalid)
    if not _valid_mode(mode):
        raise errors.InvalidArgument(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    kind = "bind" if posixpath.isabs(source) else "volume"
    propagation = next((o for o in opts if o in PROPAGATIONS), "")
    try:
        if not target:
            raise _mount_config_error(kind, "field Target must not be empty")
        try:
            _validate_target(target)
        except errors.InvalidArgument as e:
            raise _mount_config_error(kind, str(e)) from None
        if kind == "bind" and "nocopy" in opts:
            raise _mount_config_error(kind, "field VolumeOptions must not be specified")
        if kind == "volume":
            if propagation:
                raise _mount_config_error(kind, "field BindOptions must not be specified")
            if "ro" in opts and not source:
                raise _mount_config_error(
                    kind, "must not set ReadOnly mode when using anonymous volumes"
                )
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"{invalid}: {e}") from None
    mp = MountPoint(type=kind, destination=_clean(target), mode=mode, rw="ro" not in opts)
    if kind == "bind":
        mp.source = _clean(source)
        mp.propagation = propagation or "rprivate"
    else:
        mp.name = source
        mp.copy_data = "nocopy" not in opts
        mp.anonymous = not source
        validate_volume_name(source)
    return mp


def validate_volume_name(name: str) -> None:
    """The local driver's rule for volume names (empty: an anonymous volume)."""
    if not name:
        return
    if len(name) == 1:
        raise errors.InvalidArgument(
            f"create {name}: volume name is too short, names should be at least two "
            "alphanumeric characters"
        )
    if not _VOLUME_NAME.match(name):
        raise errors.InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            f'only "{names.NAME_CHARS}" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )


def parse_mount(m: api.Mount, path_exists: Callable[[str], bool] | None = None) -> MountPoint:
    """One --mount (docker's ParseMountSpec with validateMountConfig)."""
    kind = m.type

    def fail(message: str) -> errors.InvalidArgument:
        return _mount_config_error(kind, message)

    if not m.target:
        raise fail("field Target must not be empty")
    try:
        _validate_target(m.target)
    except errors.InvalidArgument as e:
        raise fail(str(e)) from None
    has_volume_opts = m.volume_no_copy or bool(m.volume_labels)
    mp = MountPoint(type=kind, destination=_clean(m.target), rw=not m.read_only)
    if kind == "bind":
        if not m.source:
            raise fail("field Source must not be empty")
        if m.bind_propagation and m.bind_propagation not in PROPAGATIONS:
            raise fail(f"invalid propagation mode: {m.bind_propagation}")
        if has_volume_opts:
            raise fail("field VolumeOptions must not be specified")
        if not posixpath.isabs(m.source):
            raise fail(f"invalid mount path: '{m.source}' mount path must be absolute")
        if path_exists is not None and not path_exists(m.source):
            raise fail(f"bind source path does not exist: {m.source}")
        mp.source = _clean(m.source)
        mp.propagation = m.bind_propagation or "rprivate"
    elif kind == "volume":
        if m.bind_propagation:
            raise fail("field BindOptions must not be specified")
        if m.read_only and not m.source:
            raise fail("must not set ReadOnly mode when using anonymous volumes")
        validate_volume_name(m.source)
        mp.name = m.source
        mp.copy_data = not m.volume_no_copy
        mp.anonymous = not m.source
    elif kind == "tmpfs":
        if m.bind_propagation:
            raise fail("field BindOptions must not be specified")
        if m.source:
            raise fail("field Source must not be specified")
        mp.tmpfs_size = m.tmpfs_size
        mp.tmpfs_mode = m.tmpfs_mode
    else:
        raise fail("mount type unknown")
    return mp


def plan_mounts(
    config: api.ContainerConfig,
    host_config: api.HostConfig,
    volume_path: Callable[[str], str],
    new_volume_name: Callable[[], str] = names.new_id,
    path_exists: Callable[[str], bool] | None = None,
) -> list[MountPoint]:
    """The container's mount points, as docker's registerMountPoints and its anonymous
    volumes for Config.Volumes: -v first, then --mount, then one new volume per VOLUME path
    nothing else covers. `volume_path(name)` is a volume's directory on the host."""
    points: dict[str, MountPoint] = {}
    for raw in host_config.binds:
        mp = parse_bind(raw)
        if mp.destination in points or mp.destination in host_config.tmpfs:
            raise errors.InvalidArgument(f"Duplicate mount point: {mp.destination}")
        points[mp.destination] = _local_volume_mode(mp)
    for m in host_config.mounts:
        mp = parse_mount(m, path_exists)
        if mp.destination in points:
            raise errors.InvalidArgument(f"Duplicate mount point: {m.target}")
        points[mp.destination] = _local_volume_mode(mp)
    for spec in config.volumes:
        mp = parse_bind(spec)
        if mp.destination in points or mp.destination in host_config.tmpfs:
            continue
        # Image VOLUMEs and `-v /path`: docker shows no mode for these.
        points[mp.destination] = MountPoint(
            type="volume", destination=mp.destination, copy_data=True, anonymous=True
        )
    for mp in points.values():
        if mp.type != "volume":
            continue
        if not mp.name:
            mp.name = new_volume_name()
        mp.driver = "local"
        mp.source = volume_path(mp.name)
    return list(points.values())


def _local_volume_mode(mp: MountPoint) -> MountPoint:
    """docker's setBindModeIfNull: a -v or --mount volume of the local driver shows "z"."""
    if mp.type == "volume" and not mp.mode:
        mp.mode = "z"
    return mp


def volume_names(record: ContainerRecord) -> list[str]:
    """The volumes the container uses (the daemon's volume store creates missing ones)."""
    return [m.name for m in record.mounts if m.type == "volume"]


# the executor's spec ------------------------------------------------------------------------


@dataclass(frozen=True)
class Defaults:
    """The daemon's defaults for what the request leaves unset."""

    init: bool = False
    ulimits: tuple[tuple[str, int, int], ...] = ()


def container_env(config: api.ContainerConfig) -> list[str]:
    """docker's CreateDaemonEnvironment: PATH, HOSTNAME and (with a tty) TERM, replaced or
    extended by the container's Env; "KEY" without "=" unsets KEY."""
    env = [f"PATH={DEFAULT_PATH_ENV}", f"HOSTNAME={config.hostname}"]
    if config.tty:
        env.append("TERM=xterm")
    return replace_or_append_env(env, list(config.env))


def exec_env(record: ContainerRecord, env: list[str], tty: bool) -> list[str]:
    """An exec's environment: the container's (with TERM per the exec's own tty), then the
    exec's -e values (docker's ContainerExecCreate)."""
    config = api.ContainerConfig()
    config.CopyFrom(record.config)
    config.tty = tty
    return replace_or_append_env(container_env(config), env)


def replace_or_append_env(defaults: list[str], overrides: list[str]) -> list[str]:
    """docker's ReplaceOrAppendEnvValues."""
    out: list[str | None] = list(defaults)
    index = {e.partition("=")[0]: i for i, e in enumerate(defaults)}
    for value in overrides:
        key, sep, _ = value.partition("=")
        if not sep:
            if value in index:
                out[index[value]] = None
            continue
        if key in index:
            out[index[key]] = value
        else:
            out.append(value)
    return [e for e in out if e is not None]


_TMPFS_FLAGS = {
    # option -> the mount flag it sets or clears: a later option beats an earlier one with
    # the same flag (docker's MergeTmpfsOptions)
    **{o: "rdonly" for o in ("ro", "rw")},
    **{o: "nosuid" for o in ("suid", "nosuid")},
    **{o: "nodev" for o in ("dev", "nodev")},
    **{o: "noexec" for o in ("exec", "noexec")},
    **{o: "sync" for o in ("sync", "async")},
    **{o: "mand" for o in ("mand", "nomand")},
    **{o: "noatime" for o in ("atime", "noatime")},
    **{o: "nodiratime" for o in ("diratime", "nodiratime")},
    **{o: "relatime" for o in ("relatime", "norelatime")},
    **{o: "strictatime" for o in ("strictatime", "nostrictatime")},
    **{o: "propagation" for o in (*PROPAGATIONS, "unbindable", "runbindable")},
    **{o: o for o in ("dirsync", "remount", "bind", "rbind")},
}
_TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")


def tmpfs_options(data: str) -> tuple[bool, int, int, list[str]]:
    """A tmpfs mount's read-only flag, size, mode and other options: docker's defaults
    (noexec, nosuid, nodev) merged with `data` (--tmpfs PATH:DATA), as MergeTmpfsOptions."""
    given = ["noexec", "nosuid", "nodev", "rprivate", *(o for o in data.split(",") if o)]
    seen_flags: set[str] = set()
    seen_data: set[str] = set()
    merged: list[str] = []
    for option in reversed(given):
        if option == "defaults":
            continue
        flag = _TMPFS_FLAGS.get(option)
        if flag is not None:
            if flag not in seen_flags:
                seen_flags.add(flag)
                merged.insert(0, option)
            continue
        key, sep, _ = option.partition("=")
        if not sep or key not in _TMPFS_DATA:
            raise errors.InvalidArgument(f'Invalid tmpfs option ["{option}"]')
        if key not in seen_data:
            seen_data.add(key)
            merged.insert(0, option)
    read_only, size, mode, rest = False, 0, 0, []
    for option in merged:
        key, _, value = option.partition("=")
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif _TMPFS_FLAGS.get(option) == "propagation":
            continue
        elif key == "size" and re.fullmatch(r"\d+[kKmMgG]?", value):
            size = humanize.ram_in_bytes(value)
        elif key == "mode" and re.fullmatch(r"[0-7]+", value):
            mode = int(value, 8)
        else:
            rest.append(option)
    return read_only, size, mode, rest


def _tmpfs_data(mp: MountPoint) -> str:
    """docker's ConvertTmpfsOptions for a --mount type=tmpfs."""
    opts = [] if mp.rw else ["ro"]
    if mp.tmpfs_mode:
        opts.append(f"mode={mp.tmpfs_mode:o}")
    if mp.tmpfs_size:
        size, suffix = mp.tmpfs_size, ""
        for unit, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                size, suffix = size // divisor, unit
                break
        opts.append(f"size={size}{suffix}")
    return ",".join(opts)


def _tmpfs_mount(target: str, data: str) -> ex.Mount:
    read_only, size, mode, opts = tmpfs_options(data)
    return ex.Mount(
        type="tmpfs",
        target=target,
        read_only=read_only,
        tmpfs_size=size,
        tmpfs_mode=mode,
        options=opts,
    )


def _executor_mount(mp: MountPoint) -> ex.Mount:
    if mp.type == "tmpfs":
        return _tmpfs_mount(mp.destination, _tmpfs_data(mp))
    m = ex.Mount(type=mp.type, target=mp.destination, read_only=not mp.rw)
    if mp.type == "bind":
        m.source = mp.source
        m.propagation = mp.propagation
    else:
        m.source = mp.name
        m.seed = mp.copy_data
    return m


def executor_spec(
    record: ContainerRecord,
    layers: list[str],
    defaults: Defaults = Defaults(),
    netmode: str = "",
) -> ex.ContainerSpec:
    """The executor's spec for a created container (docker's oci_linux.go decisions)."""
    cfg, hc = record.config, record.host_config
    process = ex.Process(
        args=[record.path, *record.args],
        env=container_env(cfg),
        cwd=cfg.working_dir or "/",
        user=cfg.user,
        additional_groups=list(hc.group_add),
        tty=cfg.tty,
        stdin=cfg.open_stdin,
    )
    mounts = [_executor_mount(mp) for mp in record.mounts]
    mounts += [_tmpfs_mount(_clean(dest), data) for dest, data in sorted(hc.tmpfs.items())]
    # Parents before children, as docker's sortMounts (stable for equal depth).
    mounts.sort(key=lambda m: len([p for p in m.target.split("/") if p]))
    security = parse_security_opts(hc.security_opt)
    seccomp = "unconfined" if hc.privileged else security.seccomp
    max_size, max_file = log_limits(hc.log_config.config)
    rlimits = {name: (soft, hard) for name, soft, hard in defaults.ulimits}
    for u in hc.ulimits:
        rlimits[u.name] = (u.soft, u.hard)
    resources = ex.Resources(
        memory=hc.memory,
        memory_swap=hc.memory_swap,
        nano_cpus=hc.nano_cpus,
        cpu_shares=hc.cpu_shares,
        cpuset_cpus=hc.cpuset_cpus,
        pids_limit=hc.pids_limit if hc.HasField("pids_limit") and hc.pids_limit > 0 else 0,
    )
    return ex.ContainerSpec(
        id=record.id,
        layers=layers,
        process=process,
        hostname=cfg.hostname,
        domainname=cfg.domainname,
        mounts=mounts,
        readonly_rootfs=hc.readonly_rootfs,
        shm_size=hc.shm_size or DEFAULT_SHM_SIZE,
        network_mode=netmode or network_mode(hc.network_mode),
        resources=resources,
        rlimits=[ex.Rlimit(name=n, soft=s, hard=h) for n, (s, h) in rlimits.items()],
        privileged=hc.privileged,
        cap_add=list(hc.cap_add),
        cap_drop=list(hc.cap_drop),
        no_new_privileges=security.no_new_privileges,
        seccomp_profile=seccomp,
        init=hc.init if hc.HasField("init") else defaults.init,
        log_max_size=max_size,
        log_max_file=max_file,
        extra_hosts=[extra_host_line(h) for h in hc.extra_hosts],
        dns=list(hc.dns),
        dns_search=list(hc.dns_search),
        dns_options=list(hc.dns_options),
    )
