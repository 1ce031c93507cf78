import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from caisson_api.executor.v1 import networks_pb2 as _networks_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNSPECIFIED: _ClassVar[Status]
    STATUS_CREATED: _ClassVar[Status]
    STATUS_RUNNING: _ClassVar[Status]
    STATUS_PAUSED: _ClassVar[Status]
    STATUS_STOPPED: _ClassVar[Status]
STATUS_UNSPECIFIED: Status
STATUS_CREATED: Status
STATUS_RUNNING: Status
STATUS_PAUSED: Status
STATUS_STOPPED: Status

class ConnectRequest(_message.Message):
    __slots__ = ("id", "endpoint")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    id: str
    endpoint: _networks_pb2.Endpoint
    def __init__(self, id: _Optional[str] = ..., endpoint: _Optional[_Union[_networks_pb2.Endpoint, _Mapping]] = ...) -> None: ...

class DisconnectRequest(_message.Message):
    __slots__ = ("id", "network_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    network_id: str
    def __init__(self, id: _Optional[str] = ..., network_id: _Optional[str] = ...) -> None: ...

class ContainerId(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Mount(_message.Message):
    __slots__ = ("type", "source", "target", "read_only", "propagation", "seed", "tmpfs_size", "tmpfs_mode", "options")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    PROPAGATION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TMPFS_SIZE_FIELD_NUMBER: _ClassVar[int]
    TMPFS_MODE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    type: str
    source: str
    target: str
    read_only: bool
    propagation: str
    seed: bool
    tmpfs_size: int
    tmpfs_mode: int
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, type: _Optional[str] = ..., source: _Optional[str] = ..., target: _Optional[str] = ..., read_only: _Optional[bool] = ..., propagation: _Optional[str] = ..., seed: _Optional[bool] = ..., tmpfs_size: _Optional[int] = ..., tmpfs_mode: _Optional[int] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class Rlimit(_message.Message):
    __slots__ = ("name", "soft", "hard")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOFT_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    name: str
    soft: int
    hard: int
    def __init__(self, name: _Optional[str] = ..., soft: _Optional[int] = ..., hard: _Optional[int] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("memory", "memory_swap", "nano_cpus", "cpu_shares", "cpuset_cpus", "pids_limit")
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    MEMORY_SWAP_FIELD_NUMBER: _ClassVar[int]
    NANO_CPUS_FIELD_NUMBER: _ClassVar[int]
    CPU_SHARES_FIELD_NUMBER: _ClassVar[int]
    CPUSET_CPUS_FIELD_NUMBER: _ClassVar[int]
    PIDS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    memory: int
    memory_swap: int
    nano_cpus: int
    cpu_shares: int
    cpuset_cpus: str
    pids_limit: int
    def __init__(self, memory: _Optional[int] = ..., memory_swap: _Optional[int] = ..., nano_cpus: _Optional[int] = ..., cpu_shares: _Optional[int] = ..., cpuset_cpus: _Optional[str] = ..., pids_limit: _Optional[int] = ...) -> None: ...

class Process(_message.Message):
    __slots__ = ("args", "env", "cwd", "user", "additional_groups", "tty", "stdin", "rows", "cols")
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    TTY_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    user: str
    additional_groups: _containers.RepeatedScalarFieldContainer[str]
    tty: bool
    stdin: bool
    rows: int
    cols: int
    def __init__(self, args: _Optional[_Iterable[str]] = ..., env: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ..., user: _Optional[str] = ..., additional_groups: _Optional[_Iterable[str]] = ..., tty: _Optional[bool] = ..., stdin: _Optional[bool] = ..., rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class ContainerSpec(_message.Message):
    __slots__ = ("id", "layers", "process", "hostname", "domainname", "mounts", "readonly_rootfs", "shm_size", "network_mode", "resources", "rlimits", "privileged", "cap_add", "cap_drop", "no_new_privileges", "seccomp_profile", "init", "log_max_size", "log_max_file", "extra_hosts", "dns", "dns_search", "dns_options")
    ID_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    DOMAINNAME_FIELD_NUMBER: _ClassVar[int]
    MOUNTS_FIELD_NUMBER: _ClassVar[int]
    READONLY_ROOTFS_FIELD_NUMBER: _ClassVar[int]
    SHM_SIZE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_MODE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RLIMITS_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    CAP_ADD_FIELD_NUMBER: _ClassVar[int]
    CAP_DROP_FIELD_NUMBER: _ClassVar[int]
    NO_NEW_PRIVILEGES_FIELD_NUMBER: _ClassVar[int]
    SECCOMP_PROFILE_FIELD_NUMBER: _ClassVar[int]
    INIT_FIELD_NUMBER: _ClassVar[int]
    LOG_MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOG_MAX_FILE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_HOSTS_FIELD_NUMBER: _ClassVar[int]
    DNS_FIELD_NUMBER: _ClassVar[int]
    DNS_SEARCH_FIELD_NUMBER: _ClassVar[int]
    DNS_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    process: Process
    hostname: str
    domainname: str
    mounts: _containers.RepeatedCompositeFieldContainer[Mount]
    readonly_rootfs: bool
    shm_size: int
    network_mode: str
    resources: Resources
    rlimits: _containers.RepeatedCompositeFieldContainer[Rlimit]
    privileged: bool
    cap_add: _containers.RepeatedScalarFieldContainer[str]
    cap_drop: _containers.RepeatedScalarFieldContainer[str]
    no_new_privileges: bool
    seccomp_profile: str
    init: bool
    log_max_size: int
    log_max_file: int
    extra_hosts: _containers.RepeatedScalarFieldContainer[str]
    dns: _containers.RepeatedScalarFieldContainer[str]
    dns_search: _containers.RepeatedScalarFieldContainer[str]
    dns_options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., process: _Optional[_Union[Process, _Mapping]] = ..., hostname: _Optional[str] = ..., domainname: _Optional[str] = ..., mounts: _Optional[_Iterable[_Union[Mount, _Mapping]]] = ..., readonly_rootfs: _Optional[bool] = ..., shm_size: _Optional[int] = ..., network_mode: _Optional[str] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., rlimits: _Optional[_Iterable[_Union[Rlimit, _Mapping]]] = ..., privileged: _Optional[bool] = ..., cap_add: _Optional[_Iterable[str]] = ..., cap_drop: _Optional[_Iterable[str]] = ..., no_new_privileges: _Optional[bool] = ..., seccomp_profile: _Optional[str] = ..., init: _Optional[bool] = ..., log_max_size: _Optional[int] = ..., log_max_file: _Optional[int] = ..., extra_hosts: _Optional[_Iterable[str]] = ..., dns: _Optional[_Iterable[str]] = ..., dns_search: _Optional[_Iterable[str]] = ..., dns_options: _Optional[_Iterable[str]] = ...) -> None: ...

class Networking(_message.Message):
    __slots__ = ("endpoints", "ports", "own_hosts", "embedded_dns", "dns_servers")
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    OWN_HOSTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_DNS_FIELD_NUMBER: _ClassVar[int]
    DNS_SERVERS_FIELD_NUMBER: _ClassVar[int]
    endpoints: _containers.RepeatedCompositeFieldContainer[_networks_pb2.Endpoint]
    ports: _containers.RepeatedCompositeFieldContainer[_networks_pb2.PortMapping]
    own_hosts: _containers.RepeatedScalarFieldContainer[str]
    embedded_dns: bool
    dns_servers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, endpoints: _Optional[_Iterable[_Union[_networks_pb2.Endpoint, _Mapping]]] = ..., ports: _Optional[_Iterable[_Union[_networks_pb2.PortMapping, _Mapping]]] = ..., own_hosts: _Optional[_Iterable[str]] = ..., embedded_dns: _Optional[bool] = ..., dns_servers: _Optional[_Iterable[str]] = ...) -> None: ...

class StartRequest(_message.Message):
    __slots__ = ("id", "networking")
    ID_FIELD_NUMBER: _ClassVar[int]
    NETWORKING_FIELD_NUMBER: _ClassVar[int]
    id: str
    networking: Networking
    def __init__(self, id: _Optional[str] = ..., networking: _Optional[_Union[Networking, _Mapping]] = ...) -> None: ...

class ContainerState(_message.Message):
    __slots__ = ("id", "status", "pid", "exit_code", "error", "oom_killed", "started", "started_at", "finished_at", "rootfs", "log_path", "ports")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OOM_KILLED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ROOTFS_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: Status
    pid: int
    exit_code: int
    error: str
    oom_killed: bool
    started: bool
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    rootfs: str
    log_path: str
    ports: _containers.RepeatedCompositeFieldContainer[_networks_pb2.PortMapping]
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[Status, str]] = ..., pid: _Optional[int] = ..., exit_code: _Optional[int] = ..., error: _Optional[str] = ..., oom_killed: _Optional[bool] = ..., started: _Optional[bool] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rootfs: _Optional[str] = ..., log_path: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[_networks_pb2.PortMapping, _Mapping]]] = ...) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerState]
    def __init__(self, containers: _Optional[_Iterable[_Union[ContainerState, _Mapping]]] = ...) -> None: ...

class KillRequest(_message.Message):
    __slots__ = ("id", "signal", "all")
    ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    id: str
    signal: int
    all: bool
    def __init__(self, id: _Optional[str] = ..., signal: _Optional[int] = ..., all: _Optional[bool] = ...) -> None: ...

class Resize(_message.Message):
    __slots__ = ("rows", "cols")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    cols: int
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ...) -> None: ...

class AttachOpen(_message.Message):
    __slots__ = ("id", "start", "size", "networking")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NETWORKING_FIELD_NUMBER: _ClassVar[int]
    id: str
    start: bool
    size: Resize
    networking: Networking
    def __init__(self, id: _Optional[str] = ..., start: _Optional[bool] = ..., size: _Optional[_Union[Resize, _Mapping]] = ..., networking: _Optional[_Union[Networking, _Mapping]] = ...) -> None: ...

class AttachRequest(_message.Message):
    __slots__ = ("open", "stdin", "resize", "close_stdin")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_STDIN_FIELD_NUMBER: _ClassVar[int]
    open: AttachOpen
    stdin: bytes
    resize: Resize
    close_stdin: bool
    def __init__(self, open: _Optional[_Union[AttachOpen, _Mapping]] = ..., stdin: _Optional[bytes] = ..., resize: _Optional[_Union[Resize, _Mapping]] = ..., close_stdin: _Optional[bool] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ("attached", "stdout", "stderr", "exit")
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    attached: ContainerState
    stdout: bytes
    stderr: bytes
    exit: ContainerState
    def __init__(self, attached: _Optional[_Union[ContainerState, _Mapping]] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit: _Optional[_Union[ContainerState, _Mapping]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("id", "follow", "tail", "since", "until")
    ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    follow: bool
    tail: int
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., follow: _Optional[bool] = ..., tail: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("stream", "data", "time")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    stream: str
    data: bytes
    time: _timestamp_pb2.Timestamp
    def __init__(self, stream: _Optional[str] = ..., data: _Optional[bytes] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExecOpen(_message.Message):
    __slots__ = ("id", "exec_id", "process", "privileged", "detach")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXEC_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    id: str
    exec_id: str
    process: Process
    privileged: bool
    detach: bool
    def __init__(self, id: _Optional[str] = ..., exec_id: _Optional[str] = ..., process: _Optional[_Union[Process, _Mapping]] = ..., privileged: _Optional[bool] = ..., detach: _Optional[bool] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ("open", "stdin", "resize", "close_stdin")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    STDIN_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    CLOSE_STDIN_FIELD_NUMBER: _ClassVar[int]
    open: ExecOpen
    stdin: bytes
    resize: Resize
    close_stdin: bool
    def __init__(self, open: _Optional[_Union[ExecOpen, _Mapping]] = ..., stdin: _Optional[bytes] = ..., resize: _Optional[_Union[Resize, _Mapping]] = ..., close_stdin: _Optional[bool] = ...) -> None: ...

class ExecResponse(_message.Message):
    __slots__ = ("started", "stdout", "stderr", "exit")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    started: int
    stdout: bytes
    stderr: bytes
    exit: ContainerState
    def __init__(self, started: _Optional[int] = ..., stdout: _Optional[bytes] = ..., stderr: _Optional[bytes] = ..., exit: _Optional[_Union[ContainerState, _Mapping]] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("read", "cpu_usage_ns", "system_cpu_ns", "online_cpus", "memory_usage", "memory_limit", "pids", "net_rx_bytes", "net_tx_bytes", "block_read_bytes", "block_write_bytes")
    READ_FIELD_NUMBER: _ClassVar[int]
    CPU_USAGE_NS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_CPU_NS_FIELD_NUMBER: _ClassVar[int]
    ONLINE_CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    NET_RX_BYTES_FIELD_NUMBER: _ClassVar[int]
    NET_TX_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOCK_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    read: _timestamp_pb2.Timestamp
    cpu_usage_ns: int
    system_cpu_ns: int
    online_cpus: int
    memory_usage: int
    memory_limit: int
    pids: int
    net_rx_bytes: int
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    def __init__(self, read: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cpu_usage_ns: _Optional[int] = ..., system_cpu_ns: _Optional[int] = ..., online_cpus: _Optional[int] = ..., memory_usage: _Optional[int] = ..., memory_limit: _Optional[int] = ..., pids: _Optional[int] = ..., net_rx_bytes: _Optional[int] = ..., net_tx_bytes: _Optional[int] = ..., block_read_bytes: _Optional[int] = ..., block_write_bytes: _Optional[int] = ...) -> None: ...

class TopResponse(_message.Message):
    __slots__ = ("pids",)
    PIDS_FIELD_NUMBER: _ClassVar[int]
    pids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pids: _Optional[_Iterable[int]] = ...) -> None: ...

class CopyFromRequest(_message.Message):
    __slots__ = ("id", "path")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    path: str
    def __init__(self, id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class PathStat(_message.Message):
    __slots__ = ("name", "size", "mode", "mtime", "link_target")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MTIME_FIELD_NUMBER: _ClassVar[int]
    LINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    mode: int
    mtime: _timestamp_pb2.Timestamp
    link_target: str
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., mtime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., link_target: _Optional[str] = ...) -> None: ...

class CopyChunk(_message.Message):
    __slots__ = ("stat", "data")
    STAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    stat: PathStat
    data: bytes
    def __init__(self, stat: _Optional[_Union[PathStat, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class CopyToOpen(_message.Message):
    __slots__ = ("id", "path")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    path: str
    def __init__(self, id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class CopyToRequest(_message.Message):
    __slots__ = ("open", "data")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    open: CopyToOpen
    data: bytes
    def __init__(self, open: _Optional[_Union[CopyToOpen, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class VolumeRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class VolumeSizeResponse(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...
