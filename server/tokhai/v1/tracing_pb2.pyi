from tokhai.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Case(_message.Message):
    __slots__ = ("person", "province_code", "start", "end")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.PersonRef
    province_code: str
    start: int
    end: int
    def __init__(self, person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., province_code: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class TraceRequest(_message.Message):
    __slots__ = ("cases", "hops", "min_overlap_seconds", "linger_seconds", "latency_seconds", "purpose", "until")
    CASES_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    MIN_OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LINGER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    hops: int
    min_overlap_seconds: int
    linger_seconds: int
    latency_seconds: int
    purpose: str
    until: int
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., hops: _Optional[int] = ..., min_overlap_seconds: _Optional[int] = ..., linger_seconds: _Optional[int] = ..., latency_seconds: _Optional[int] = ..., purpose: _Optional[str] = ..., until: _Optional[int] = ...) -> None: ...

class TracedPeople(_message.Message):
    __slots__ = ("person_id", "hop", "exposed_at", "source_person_id", "exposure_seconds")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    HOP_FIELD_NUMBER: _ClassVar[int]
    EXPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    person_id: _containers.RepeatedScalarFieldContainer[int]
    hop: _containers.RepeatedScalarFieldContainer[int]
    exposed_at: _containers.RepeatedScalarFieldContainer[int]
    source_person_id: _containers.RepeatedScalarFieldContainer[int]
    exposure_seconds: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, person_id: _Optional[_Iterable[int]] = ..., hop: _Optional[_Iterable[int]] = ..., exposed_at: _Optional[_Iterable[int]] = ..., source_person_id: _Optional[_Iterable[int]] = ..., exposure_seconds: _Optional[_Iterable[int]] = ...) -> None: ...

class TracedContact(_message.Message):
    __slots__ = ("person_id", "contact")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    person_id: int
    contact: _common_pb2.ContactDetails
    def __init__(self, person_id: _Optional[int] = ..., contact: _Optional[_Union[_common_pb2.ContactDetails, _Mapping]] = ...) -> None: ...

class ExposureSite(_message.Message):
    __slots__ = ("venue_id", "venue_name", "province_code", "start", "end", "case_person_id", "people_exposed")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_NAME_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CASE_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_EXPOSED_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    venue_name: str
    province_code: str
    start: int
    end: int
    case_person_id: int
    people_exposed: int
    def __init__(self, venue_id: _Optional[int] = ..., venue_name: _Optional[str] = ..., province_code: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., case_person_id: _Optional[int] = ..., people_exposed: _Optional[int] = ...) -> None: ...

class TraceResponse(_message.Message):
    __slots__ = ("people", "sites", "contacts")
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    people: TracedPeople
    sites: _containers.RepeatedCompositeFieldContainer[ExposureSite]
    contacts: _containers.RepeatedCompositeFieldContainer[TracedContact]
    def __init__(self, people: _Optional[_Union[TracedPeople, _Mapping]] = ..., sites: _Optional[_Iterable[_Union[ExposureSite, _Mapping]]] = ..., contacts: _Optional[_Iterable[_Union[TracedContact, _Mapping]]] = ...) -> None: ...

class VenueLogRequest(_message.Message):
    __slots__ = ("venue_id", "day", "purpose")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    venue_id: int
    day: int
    purpose: str
    def __init__(self, venue_id: _Optional[int] = ..., day: _Optional[int] = ..., purpose: _Optional[str] = ...) -> None: ...

class VenueLogEntry(_message.Message):
    __slots__ = ("person", "entered_at", "left_at")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    ENTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LEFT_AT_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.Person
    entered_at: int
    left_at: int
    def __init__(self, person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., entered_at: _Optional[int] = ..., left_at: _Optional[int] = ...) -> None: ...

class VenueLogResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[VenueLogEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[VenueLogEntry, _Mapping]]] = ...) -> None: ...
