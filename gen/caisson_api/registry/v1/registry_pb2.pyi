from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LayerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAYER_STATE_UNSPECIFIED: _ClassVar[LayerState]
    LAYER_STATE_WAITING: _ClassVar[LayerState]
    LAYER_STATE_DOWNLOADING: _ClassVar[LayerState]
    LAYER_STATE_VERIFYING: _ClassVar[LayerState]
    LAYER_STATE_DOWNLOADED: _ClassVar[LayerState]
    LAYER_STATE_EXISTS: _ClassVar[LayerState]
    LAYER_STATE_RETRYING: _ClassVar[LayerState]
LAYER_STATE_UNSPECIFIED: LayerState
LAYER_STATE_WAITING: LayerState
LAYER_STATE_DOWNLOADING: LayerState
LAYER_STATE_VERIFYING: LayerState
LAYER_STATE_DOWNLOADED: LayerState
LAYER_STATE_EXISTS: LayerState
LAYER_STATE_RETRYING: LayerState

class AuthConfig(_message.Message):
    __slots__ = ("username", "password", "identity_token")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    identity_token: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., identity_token: _Optional[str] = ...) -> None: ...

class Platform(_message.Message):
    __slots__ = ("os", "architecture", "variant")
    OS_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    os: str
    architecture: str
    variant: str
    def __init__(self, os: _Optional[str] = ..., architecture: _Optional[str] = ..., variant: _Optional[str] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("reference", "platform", "auth", "max_concurrent_downloads")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    reference: str
    platform: Platform
    auth: AuthConfig
    max_concurrent_downloads: int
    def __init__(self, reference: _Optional[str] = ..., platform: _Optional[_Union[Platform, _Mapping]] = ..., auth: _Optional[_Union[AuthConfig, _Mapping]] = ..., max_concurrent_downloads: _Optional[int] = ...) -> None: ...

class Descriptor(_message.Message):
    __slots__ = ("media_type", "digest", "size")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    digest: str
    size: int
    def __init__(self, media_type: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class Resolved(_message.Message):
    __slots__ = ("name", "manifest", "index", "config", "layers", "platform")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    name: str
    manifest: Descriptor
    index: Descriptor
    config: Descriptor
    layers: _containers.RepeatedCompositeFieldContainer[Descriptor]
    platform: Platform
    def __init__(self, name: _Optional[str] = ..., manifest: _Optional[_Union[Descriptor, _Mapping]] = ..., index: _Optional[_Union[Descriptor, _Mapping]] = ..., config: _Optional[_Union[Descriptor, _Mapping]] = ..., layers: _Optional[_Iterable[_Union[Descriptor, _Mapping]]] = ..., platform: _Optional[_Union[Platform, _Mapping]] = ...) -> None: ...

class LayerProgress(_message.Message):
    __slots__ = ("digest", "state", "current", "total", "message")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    digest: str
    state: LayerState
    current: int
    total: int
    message: str
    def __init__(self, digest: _Optional[str] = ..., state: _Optional[_Union[LayerState, str]] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PullDone(_message.Message):
    __slots__ = ("manifest",)
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    manifest: Descriptor
    def __init__(self, manifest: _Optional[_Union[Descriptor, _Mapping]] = ...) -> None: ...

class PullEvent(_message.Message):
    __slots__ = ("resolved", "layer", "done")
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    resolved: Resolved
    layer: LayerProgress
    done: PullDone
    def __init__(self, resolved: _Optional[_Union[Resolved, _Mapping]] = ..., layer: _Optional[_Union[LayerProgress, _Mapping]] = ..., done: _Optional[_Union[PullDone, _Mapping]] = ...) -> None: ...

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

class InfoResponse(_message.Message):
    __slots__ = ("version", "content_root", "insecure_registries", "mirrors", "max_concurrent_downloads", "uid")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ROOT_FIELD_NUMBER: _ClassVar[int]
    INSECURE_REGISTRIES_FIELD_NUMBER: _ClassVar[int]
    MIRRORS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_DOWNLOADS_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    version: str
    content_root: str
    insecure_registries: _containers.RepeatedScalarFieldContainer[str]
    mirrors: _containers.RepeatedScalarFieldContainer[str]
    max_concurrent_downloads: int
    uid: int
    def __init__(self, version: _Optional[str] = ..., content_root: _Optional[str] = ..., insecure_registries: _Optional[_Iterable[str]] = ..., mirrors: _Optional[_Iterable[str]] = ..., max_concurrent_downloads: _Optional[int] = ..., uid: _Optional[int] = ...) -> None: ...
