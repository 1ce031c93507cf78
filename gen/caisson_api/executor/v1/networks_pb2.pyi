from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NetworkSpec(_message.Message):
    __slots__ = ("id", "bridge", "subnet", "gateway", "mtu", "internal", "dns")
    ID_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    SUBNET_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    MTU_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    DNS_FIELD_NUMBER: _ClassVar[int]
    id: str
    bridge: str
    subnet: str
    gateway: str
    mtu: int
    internal: bool
    dns: bool
    def __init__(self, id: _Optional[str] = ..., bridge: _Optional[str] = ..., subnet: _Optional[str] = ..., gateway: _Optional[str] = ..., mtu: _Optional[int] = ..., internal: _Optional[bool] = ..., dns: _Optional[bool] = ...) -> None: ...

class NetworkRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListNetworksResponse(_message.Message):
    __slots__ = ("networks",)
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    networks: _containers.RepeatedCompositeFieldContainer[NetworkSpec]
    def __init__(self, networks: _Optional[_Iterable[_Union[NetworkSpec, _Mapping]]] = ...) -> None: ...

class NameRecord(_message.Message):
    __slots__ = ("name", "addresses")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    name: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class NetworkNames(_message.Message):
    __slots__ = ("network_id", "records")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    records: _containers.RepeatedCompositeFieldContainer[NameRecord]
    def __init__(self, network_id: _Optional[str] = ..., records: _Optional[_Iterable[_Union[NameRecord, _Mapping]]] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("network_id", "address", "prefix_len", "gateway", "mac", "ifname")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_LEN_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    IFNAME_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    address: str
    prefix_len: int
    gateway: str
    mac: str
    ifname: str
    def __init__(self, network_id: _Optional[str] = ..., address: _Optional[str] = ..., prefix_len: _Optional[int] = ..., gateway: _Optional[str] = ..., mac: _Optional[str] = ..., ifname: _Optional[str] = ...) -> None: ...

class PortMapping(_message.Message):
    __slots__ = ("protocol", "host_ip", "host_port", "container_port", "host_port_end")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    HOST_IP_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_END_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    host_ip: str
    host_port: int
    container_port: int
    host_port_end: int
    def __init__(self, protocol: _Optional[str] = ..., host_ip: _Optional[str] = ..., host_port: _Optional[int] = ..., container_port: _Optional[int] = ..., host_port_end: _Optional[int] = ...) -> None: ...
