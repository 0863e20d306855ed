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

class SafetyLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAFETY_LEVEL_UNSPECIFIED: _ClassVar[SafetyLevel]
    SAFETY_LEVEL_SAFE: _ClassVar[SafetyLevel]
    SAFETY_LEVEL_LOW_RISK: _ClassVar[SafetyLevel]
    SAFETY_LEVEL_RISK: _ClassVar[SafetyLevel]
    SAFETY_LEVEL_HIGH_RISK: _ClassVar[SafetyLevel]
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
SAFETY_LEVEL_UNSPECIFIED: SafetyLevel
SAFETY_LEVEL_SAFE: SafetyLevel
SAFETY_LEVEL_LOW_RISK: SafetyLevel
SAFETY_LEVEL_RISK: SafetyLevel
SAFETY_LEVEL_HIGH_RISK: SafetyLevel

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

class SafetyChecklist(_message.Message):
    __slots__ = ("masks", "distancing", "disinfection", "ventilation", "qr_checkin_at_entrance", "staff_vaccinated_or_tested", "health_declarations", "isolation_area")
    MASKS_FIELD_NUMBER: _ClassVar[int]
    DISTANCING_FIELD_NUMBER: _ClassVar[int]
    DISINFECTION_FIELD_NUMBER: _ClassVar[int]
    VENTILATION_FIELD_NUMBER: _ClassVar[int]
    QR_CHECKIN_AT_ENTRANCE_FIELD_NUMBER: _ClassVar[int]
    STAFF_VACCINATED_OR_TESTED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_DECLARATIONS_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_AREA_FIELD_NUMBER: _ClassVar[int]
    masks: bool
    distancing: bool
    disinfection: bool
    ventilation: bool
    qr_checkin_at_entrance: bool
    staff_vaccinated_or_tested: bool
    health_declarations: bool
    isolation_area: bool
    def __init__(self, masks: _Optional[bool] = ..., distancing: _Optional[bool] = ..., disinfection: _Optional[bool] = ..., ventilation: _Optional[bool] = ..., qr_checkin_at_entrance: _Optional[bool] = ..., staff_vaccinated_or_tested: _Optional[bool] = ..., health_declarations: _Optional[bool] = ..., isolation_area: _Optional[bool] = ...) -> None: ...

class SafetyAssessment(_message.Message):
    __slots__ = ("venue_id", "checklist", "score", "level", "assessed_at")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ASSESSED_AT_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    checklist: SafetyChecklist
    score: int
    level: SafetyLevel
    assessed_at: int
    def __init__(self, venue_id: _Optional[int] = ..., checklist: _Optional[_Union[SafetyChecklist, _Mapping]] = ..., score: _Optional[int] = ..., level: _Optional[_Union[SafetyLevel, str]] = ..., assessed_at: _Optional[int] = ...) -> None: ...

class SubmitSafetyAssessmentRequest(_message.Message):
    __slots__ = ("venue_id", "checklist")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    checklist: SafetyChecklist
    def __init__(self, venue_id: _Optional[int] = ..., checklist: _Optional[_Union[SafetyChecklist, _Mapping]] = ...) -> None: ...

class ListVenueSafetyRequest(_message.Message):
    __slots__ = ("province_code", "ward_code", "level", "after_venue_id", "page_size")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    WARD_CODE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    AFTER_VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    ward_code: str
    level: SafetyLevel
    after_venue_id: int
    page_size: int
    def __init__(self, province_code: _Optional[str] = ..., ward_code: _Optional[str] = ..., level: _Optional[_Union[SafetyLevel, str]] = ..., after_venue_id: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class VenueSafety(_message.Message):
    __slots__ = ("venue_id", "venue_name", "ward_code", "assessment", "under_alert")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_NAME_FIELD_NUMBER: _ClassVar[int]
    WARD_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    UNDER_ALERT_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    venue_name: str
    ward_code: str
    assessment: SafetyAssessment
    under_alert: bool
    def __init__(self, venue_id: _Optional[int] = ..., venue_name: _Optional[str] = ..., ward_code: _Optional[str] = ..., assessment: _Optional[_Union[SafetyAssessment, _Mapping]] = ..., under_alert: _Optional[bool] = ...) -> None: ...

class ListVenueSafetyResponse(_message.Message):
    __slots__ = ("venues", "next_after_venue_id")
    VENUES_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venues: _containers.RepeatedCompositeFieldContainer[VenueSafety]
    next_after_venue_id: int
    def __init__(self, venues: _Optional[_Iterable[_Union[VenueSafety, _Mapping]]] = ..., next_after_venue_id: _Optional[int] = ...) -> None: ...

class SafetyHistoryRequest(_message.Message):
    __slots__ = ("venue_id",)
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    def __init__(self, venue_id: _Optional[int] = ...) -> None: ...

class SafetyHistoryResponse(_message.Message):
    __slots__ = ("assessments",)
    ASSESSMENTS_FIELD_NUMBER: _ClassVar[int]
    assessments: _containers.RepeatedCompositeFieldContainer[SafetyAssessment]
    def __init__(self, assessments: _Optional[_Iterable[_Union[SafetyAssessment, _Mapping]]] = ...) -> None: ...
