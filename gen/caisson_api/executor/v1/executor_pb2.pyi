from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnpackState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNPACK_STATE_UNSPECIFIED: _ClassVar[UnpackState]
    UNPACK_STATE_EXTRACTING: _ClassVar[UnpackState]
    UNPACK_STATE_DONE: _ClassVar[UnpackState]
    UNPACK_STATE_EXISTS: _ClassVar[UnpackState]
UNPACK_STATE_UNSPECIFIED: UnpackState
UNPACK_STATE_EXTRACTING: UnpackState
UNPACK_STATE_DONE: UnpackState
UNPACK_STATE_EXISTS: UnpackState

class UnpackRequest(_message.Message):
    __slots__ = ("blob_digest", "media_type", "diff_id", "chain_id", "parent_chain_id", "follow", "blob_size")
    BLOB_DIGEST_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIFF_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    BLOB_SIZE_FIELD_NUMBER: _ClassVar[int]
    blob_digest: str
    media_type: str
    diff_id: str
    chain_id: str
    parent_chain_id: str
    follow: bool
    blob_size: int
    def __init__(self, blob_digest: _Optional[str] = ..., media_type: _Optional[str] = ..., diff_id: _Optional[str] = ..., chain_id: _Optional[str] = ..., parent_chain_id: _Optional[str] = ..., follow: _Optional[bool] = ..., blob_size: _Optional[int] = ...) -> None: ...

class UnpackProgress(_message.Message):
    __slots__ = ("chain_id", "state", "current", "total", "size")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    state: UnpackState
    current: int
    total: int
    size: int
    def __init__(self, chain_id: _Optional[str] = ..., state: _Optional[_Union[UnpackState, str]] = ..., current: _Optional[int] = ..., total: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("chain_id", "parent_chain_id", "size", "diff_id")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DIFF_ID_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    parent_chain_id: str
    size: int
    diff_id: str
    def __init__(self, chain_id: _Optional[str] = ..., parent_chain_id: _Optional[str] = ..., size: _Optional[int] = ..., diff_id: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ...) -> None: ...

class RemoveSnapshotRequest(_message.Message):
    __slots__ = ("chain_id",)
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    def __init__(self, chain_id: _Optional[str] = ...) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("version", "snapshot_root", "cgroup_mode", "snapshots")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ROOT_FIELD_NUMBER: _ClassVar[int]
    CGROUP_MODE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    version: str
    snapshot_root: str
    cgroup_mode: str
    snapshots: int
    def __init__(self, version: _Optional[str] = ..., snapshot_root: _Optional[str] = ..., cgroup_mode: _Optional[str] = ..., snapshots: _Optional[int] = ...) -> None: ...
