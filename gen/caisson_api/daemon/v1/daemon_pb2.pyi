import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LayerStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAYER_STATUS_UNSPECIFIED: _ClassVar[LayerStatus]
    LAYER_STATUS_WAITING: _ClassVar[LayerStatus]
    LAYER_STATUS_DOWNLOADING: _ClassVar[LayerStatus]
    LAYER_STATUS_VERIFYING: _ClassVar[LayerStatus]
    LAYER_STATUS_DOWNLOAD_COMPLETE: _ClassVar[LayerStatus]
    LAYER_STATUS_EXTRACTING: _ClassVar[LayerStatus]
    LAYER_STATUS_PULL_COMPLETE: _ClassVar[LayerStatus]
    LAYER_STATUS_ALREADY_EXISTS: _ClassVar[LayerStatus]
    LAYER_STATUS_RETRYING: _ClassVar[LayerStatus]
LAYER_STATUS_UNSPECIFIED: LayerStatus
LAYER_STATUS_WAITING: LayerStatus
LAYER_STATUS_DOWNLOADING: LayerStatus
LAYER_STATUS_VERIFYING: LayerStatus
LAYER_STATUS_DOWNLOAD_COMPLETE: LayerStatus
LAYER_STATUS_EXTRACTING: LayerStatus
LAYER_STATUS_PULL_COMPLETE: LayerStatus
LAYER_STATUS_ALREADY_EXISTS: LayerStatus
LAYER_STATUS_RETRYING: LayerStatus

class AuthConfig(_message.Message):
    __slots__ = ("username", "password", "identity_token")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    identity_token: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., identity_token: _Optional[str] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("reference", "platform", "auth")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    reference: str
    platform: str
    auth: AuthConfig
    def __init__(self, reference: _Optional[str] = ..., platform: _Optional[str] = ..., auth: _Optional[_Union[AuthConfig, _Mapping]] = ...) -> None: ...

class LayerProgress(_message.Message):
    __slots__ = ("id", "digest", "status", "current", "total", "message")
    ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    digest: str
    status: LayerStatus
    current: int
    total: int
    message: str
    def __init__(self, id: _Optional[str] = ..., digest: _Optional[str] = ..., status: _Optional[_Union[LayerStatus, str]] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PullResult(_message.Message):
    __slots__ = ("reference", "digest", "image_id", "downloaded")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DOWNLOADED_FIELD_NUMBER: _ClassVar[int]
    reference: str
    digest: str
    image_id: str
    downloaded: bool
    def __init__(self, reference: _Optional[str] = ..., digest: _Optional[str] = ..., image_id: _Optional[str] = ..., downloaded: _Optional[bool] = ...) -> None: ...

class PullEvent(_message.Message):
    __slots__ = ("job_id", "layers", "layer", "result")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    layers: LayerList
    layer: LayerProgress
    result: PullResult
    def __init__(self, job_id: _Optional[str] = ..., layers: _Optional[_Union[LayerList, _Mapping]] = ..., layer: _Optional[_Union[LayerProgress, _Mapping]] = ..., result: _Optional[_Union[PullResult, _Mapping]] = ...) -> None: ...

class LayerList(_message.Message):
    __slots__ = ("layers",)
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    layers: _containers.RepeatedCompositeFieldContainer[LayerProgress]
    def __init__(self, layers: _Optional[_Iterable[_Union[LayerProgress, _Mapping]]] = ...) -> None: ...

class ImageSummary(_message.Message):
    __slots__ = ("id", "repo_tags", "repo_digests", "created", "size", "containers")
    ID_FIELD_NUMBER: _ClassVar[int]
    REPO_TAGS_FIELD_NUMBER: _ClassVar[int]
    REPO_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    repo_tags: _containers.RepeatedScalarFieldContainer[str]
    repo_digests: _containers.RepeatedScalarFieldContainer[str]
    created: _timestamp_pb2.Timestamp
    size: int
    containers: int
    def __init__(self, id: _Optional[str] = ..., repo_tags: _Optional[_Iterable[str]] = ..., repo_digests: _Optional[_Iterable[str]] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., size: _Optional[int] = ..., containers: _Optional[int] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ("all", "reference", "filters")
    ALL_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    all: bool
    reference: str
    filters: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, all: _Optional[bool] = ..., reference: _Optional[str] = ..., filters: _Optional[_Iterable[str]] = ...) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[ImageSummary]
    def __init__(self, images: _Optional[_Iterable[_Union[ImageSummary, _Mapping]]] = ...) -> None: ...

class InspectImageRequest(_message.Message):
    __slots__ = ("references",)
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    references: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, references: _Optional[_Iterable[str]] = ...) -> None: ...

class InspectImageResponse(_message.Message):
    __slots__ = ("documents",)
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, documents: _Optional[_Iterable[str]] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("id", "created", "created_by", "size", "comment", "empty_layer")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EMPTY_LAYER_FIELD_NUMBER: _ClassVar[int]
    id: str
    created: _timestamp_pb2.Timestamp
    created_by: str
    size: int
    comment: str
    empty_layer: bool
    def __init__(self, id: _Optional[str] = ..., created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., size: _Optional[int] = ..., comment: _Optional[str] = ..., empty_layer: _Optional[bool] = ...) -> None: ...

class HistoryResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ...) -> None: ...

class TagRequest(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class RemoveImageRequest(_message.Message):
    __slots__ = ("reference", "force", "no_prune")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    NO_PRUNE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    force: bool
    no_prune: bool
    def __init__(self, reference: _Optional[str] = ..., force: _Optional[bool] = ..., no_prune: _Optional[bool] = ...) -> None: ...

class RemoveImageResponse(_message.Message):
    __slots__ = ("untagged", "deleted")
    UNTAGGED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    untagged: _containers.RepeatedScalarFieldContainer[str]
    deleted: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, untagged: _Optional[_Iterable[str]] = ..., deleted: _Optional[_Iterable[str]] = ...) -> None: ...

class PruneImagesRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class PruneImagesResponse(_message.Message):
    __slots__ = ("deleted", "space_reclaimed", "untagged")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    SPACE_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    UNTAGGED_FIELD_NUMBER: _ClassVar[int]
    deleted: _containers.RepeatedScalarFieldContainer[str]
    space_reclaimed: int
    untagged: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted: _Optional[_Iterable[str]] = ..., space_reclaimed: _Optional[int] = ..., untagged: _Optional[_Iterable[str]] = ...) -> None: ...

class ComponentVersion(_message.Message):
    __slots__ = ("name", "version", "health", "address")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    health: str
    address: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., health: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class VersionResponse(_message.Message):
    __slots__ = ("version", "api_version", "python_version", "os", "arch", "components")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    version: str
    api_version: str
    python_version: str
    os: str
    arch: str
    components: _containers.RepeatedCompositeFieldContainer[ComponentVersion]
    def __init__(self, version: _Optional[str] = ..., api_version: _Optional[str] = ..., python_version: _Optional[str] = ..., os: _Optional[str] = ..., arch: _Optional[str] = ..., components: _Optional[_Iterable[_Union[ComponentVersion, _Mapping]]] = ...) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("data_root", "exec_root", "images", "containers", "snapshots", "components", "insecure_registries", "registry_mirrors", "max_concurrent_downloads", "cgroup_mode", "version", "os", "arch", "pid", "jobs_running", "containers_running", "containers_paused", "containers_stopped")
    DATA_ROOT_FIELD_NUMBER: _ClassVar[int]
    EXEC_ROOT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_MIRRORS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    CGROUP_MODE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    JOBS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_PAUSED_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_STOPPED_FIELD_NUMBER: _ClassVar[int]
    data_root: str
    exec_root: str
    images: int
    containers: int
    snapshots: int
    components: _containers.RepeatedCompositeFieldContainer[ComponentVersion]
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    registry_mirrors: _containers.RepeatedScalarFieldContainer[str]
    max_concurrent_downloads: int
    cgroup_mode: str
    version: str
    os: str
    arch: str
    pid: int
    jobs_running: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    def __init__(self, data_root: _Optional[str] = ..., exec_root: _Optional[str] = ..., images: _Optional[int] = ..., containers: _Optional[int] = ..., snapshots: _Optional[int] = ..., components: _Optional[_Iterable[_Union[ComponentVersion, _Mapping]]] = ..., insecure_registries: _Optional[_Iterable[str]] = ..., registry_mirrors: _Optional[_Iterable[str]] = ..., max_concurrent_downloads: _Optional[int] = ..., cgroup_mode: _Optional[str] = ..., version: _Optional[str] = ..., os: _Optional[str] = ..., arch: _Optional[str] = ..., pid: _Optional[int] = ..., jobs_running: _Optional[int] = ..., containers_running: _Optional[int] = ..., containers_paused: _Optional[int] = ..., containers_stopped: _Optional[int] = ...) -> None: ...

class EventsRequest(_message.Message):
    __slots__ = ("since", "until", "filters")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    since: float
    until: float
    filters: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, since: _Optional[float] = ..., until: _Optional[float] = ..., filters: _Optional[_Iterable[str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("type", "action", "id", "attributes", "time", "job_id")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    action: str
    id: str
    attributes: _containers.ScalarMap[str, str]
    time: _timestamp_pb2.Timestamp
    job_id: str
    def __init__(self, type: _Optional[str] = ..., action: _Optional[str] = ..., id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("registry", "auth")
    REGISTRY_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    registry: str
    auth: AuthConfig
    def __init__(self, registry: _Optional[str] = ..., auth: _Optional[_Union[AuthConfig, _Mapping]] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...
