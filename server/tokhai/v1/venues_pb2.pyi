from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VenueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VENUE_KIND_UNSPECIFIED: _ClassVar[VenueKind]
    VENUE_KIND_AGENCY: _ClassVar[VenueKind]
    VENUE_KIND_HOSPITAL: _ClassVar[VenueKind]
    VENUE_KIND_SCHOOL: _ClassVar[VenueKind]
    VENUE_KIND_COMPANY: _ClassVar[VenueKind]
    VENUE_KIND_SUPERMARKET: _ClassVar[VenueKind]
    VENUE_KIND_HOTEL: _ClassVar[VenueKind]
    VENUE_KIND_LODGING: _ClassVar[VenueKind]
    VENUE_KIND_RESTAURANT: _ClassVar[VenueKind]
    VENUE_KIND_EATERY: _ClassVar[VenueKind]
    VENUE_KIND_CAFE: _ClassVar[VenueKind]
    VENUE_KIND_PUBLIC_TRANSPORT: _ClassVar[VenueKind]
    VENUE_KIND_OTHER: _ClassVar[VenueKind]
VENUE_KIND_UNSPECIFIED: VenueKind
VENUE_KIND_AGENCY: VenueKind
VENUE_KIND_HOSPITAL: VenueKind
VENUE_KIND_SCHOOL: VenueKind
VENUE_KIND_COMPANY: VenueKind
VENUE_KIND_SUPERMARKET: VenueKind
VENUE_KIND_HOTEL: VenueKind
VENUE_KIND_LODGING: VenueKind
VENUE_KIND_RESTAURANT: VenueKind
VENUE_KIND_EATERY: VenueKind
VENUE_KIND_CAFE: VenueKind
VENUE_KIND_PUBLIC_TRANSPORT: VenueKind
VENUE_KIND_OTHER: VenueKind

class Address(_message.Message):
    __slots__ = ("province_code", "district_code", "ward_code", "street")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_CODE_FIELD_NUMBER: _ClassVar[int]
    WARD_CODE_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    district_code: str
    ward_code: str
    street: str
    def __init__(self, province_code: _Optional[str] = ..., district_code: _Optional[str] = ..., ward_code: _Optional[str] = ..., street: _Optional[str] = ...) -> None: ...

class Venue(_message.Message):
    __slots__ = ("id", "name", "kind", "address", "latitude", "longitude", "dwell_seconds", "active", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    DWELL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    kind: VenueKind
    address: Address
    latitude: float
    longitude: float
    dwell_seconds: int
    active: bool
    created_at: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[VenueKind, str]] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., dwell_seconds: _Optional[int] = ..., active: _Optional[bool] = ..., created_at: _Optional[int] = ...) -> None: ...

class RegisterVenueRequest(_message.Message):
    __slots__ = ("request_id", "name", "kind", "address", "latitude", "longitude", "dwell_seconds")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    DWELL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    kind: VenueKind
    address: Address
    latitude: float
    longitude: float
    dwell_seconds: int
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[VenueKind, str]] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., dwell_seconds: _Optional[int] = ...) -> None: ...

class UpdateVenueRequest(_message.Message):
    __slots__ = ("venue_id", "name", "kind", "address", "latitude", "longitude", "dwell_seconds")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    DWELL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    name: str
    kind: VenueKind
    address: Address
    latitude: float
    longitude: float
    dwell_seconds: int
    def __init__(self, venue_id: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[VenueKind, str]] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., dwell_seconds: _Optional[int] = ...) -> None: ...

class GetVenueRequest(_message.Message):
    __slots__ = ("venue_id",)
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    def __init__(self, venue_id: _Optional[int] = ...) -> None: ...

class DeactivateVenueRequest(_message.Message):
    __slots__ = ("venue_id",)
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    def __init__(self, venue_id: _Optional[int] = ...) -> None: ...

class IssueVenueCodeRequest(_message.Message):
    __slots__ = ("venue_id",)
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    def __init__(self, venue_id: _Optional[int] = ...) -> None: ...

class VenueCode(_message.Message):
    __slots__ = ("payload", "key_id", "svg", "png", "poster_png")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SVG_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    POSTER_PNG_FIELD_NUMBER: _ClassVar[int]
    payload: str
    key_id: int
    svg: bytes
    png: bytes
    poster_png: bytes
    def __init__(self, payload: _Optional[str] = ..., key_id: _Optional[int] = ..., svg: _Optional[bytes] = ..., png: _Optional[bytes] = ..., poster_png: _Optional[bytes] = ...) -> None: ...

class SigningKey(_message.Message):
    __slots__ = ("key_id", "public_key", "created_at", "revoked_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    public_key: bytes
    created_at: int
    revoked_at: int
    def __init__(self, key_id: _Optional[int] = ..., public_key: _Optional[bytes] = ..., created_at: _Optional[int] = ..., revoked_at: _Optional[int] = ...) -> None: ...

class ListSigningKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSigningKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[SigningKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[SigningKey, _Mapping]]] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeSigningKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: int
    def __init__(self, key_id: _Optional[int] = ...) -> None: ...
