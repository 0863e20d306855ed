from tokhai.v1 import care_pb2 as _care_pb2
from tokhai.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckInRequest(_message.Message):
    __slots__ = ("request_id", "person", "venue_payload", "time", "source", "contact", "declaration")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    VENUE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    person: _common_pb2.PersonRef
    venue_payload: str
    time: int
    source: _common_pb2.SourceApp
    contact: _common_pb2.ContactDetails
    declaration: _care_pb2.Declaration
    def __init__(self, request_id: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., venue_payload: _Optional[str] = ..., time: _Optional[int] = ..., source: _Optional[_Union[_common_pb2.SourceApp, str]] = ..., contact: _Optional[_Union[_common_pb2.ContactDetails, _Mapping]] = ..., declaration: _Optional[_Union[_care_pb2.Declaration, _Mapping]] = ...) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("stay_id", "venue_id", "venue_name", "t_in", "provisional_t_out", "repeated", "advice")
    STAY_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_NAME_FIELD_NUMBER: _ClassVar[int]
    T_IN_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_T_OUT_FIELD_NUMBER: _ClassVar[int]
    REPEATED_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    stay_id: int
    venue_id: int
    venue_name: str
    t_in: int
    provisional_t_out: int
    repeated: bool
    advice: _care_pb2.EntryAdvice
    def __init__(self, stay_id: _Optional[int] = ..., venue_id: _Optional[int] = ..., venue_name: _Optional[str] = ..., t_in: _Optional[int] = ..., provisional_t_out: _Optional[int] = ..., repeated: _Optional[bool] = ..., advice: _Optional[_Union[_care_pb2.EntryAdvice, _Mapping]] = ...) -> None: ...

class ScanPersonRequest(_message.Message):
    __slots__ = ("request_id", "venue_id", "person_payload", "time")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    venue_id: int
    person_payload: str
    time: int
    def __init__(self, request_id: _Optional[str] = ..., venue_id: _Optional[int] = ..., person_payload: _Optional[str] = ..., time: _Optional[int] = ...) -> None: ...

class PersonAtVenue(_message.Message):
    __slots__ = ("person", "venue_id")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.PersonRef
    venue_id: int
    def __init__(self, person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., venue_id: _Optional[int] = ...) -> None: ...

class PersonStay(_message.Message):
    __slots__ = ("person", "stay_id")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    STAY_ID_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.PersonRef
    stay_id: int
    def __init__(self, person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., stay_id: _Optional[int] = ...) -> None: ...

class CheckOutRequest(_message.Message):
    __slots__ = ("request_id", "stay", "person_at_venue", "time")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STAY_FIELD_NUMBER: _ClassVar[int]
    PERSON_AT_VENUE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    stay: PersonStay
    person_at_venue: PersonAtVenue
    time: int
    def __init__(self, request_id: _Optional[str] = ..., stay: _Optional[_Union[PersonStay, _Mapping]] = ..., person_at_venue: _Optional[_Union[PersonAtVenue, _Mapping]] = ..., time: _Optional[int] = ...) -> None: ...

class CheckOutResponse(_message.Message):
    __slots__ = ("stay_id", "t_out")
    STAY_ID_FIELD_NUMBER: _ClassVar[int]
    T_OUT_FIELD_NUMBER: _ClassVar[int]
    stay_id: int
    t_out: int
    def __init__(self, stay_id: _Optional[int] = ..., t_out: _Optional[int] = ...) -> None: ...

class IngestBatch(_message.Message):
    __slots__ = ("batch_id", "source", "person_refs", "venue_ids", "t_in", "t_out", "checkout_stay_ids", "checkout_person_refs", "checkout_t_out", "request_id")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PERSON_REFS_FIELD_NUMBER: _ClassVar[int]
    VENUE_IDS_FIELD_NUMBER: _ClassVar[int]
    T_IN_FIELD_NUMBER: _ClassVar[int]
    T_OUT_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_STAY_IDS_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_PERSON_REFS_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_T_OUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    source: _common_pb2.SourceApp
    person_refs: _containers.RepeatedScalarFieldContainer[str]
    venue_ids: _containers.RepeatedScalarFieldContainer[int]
    t_in: _containers.RepeatedScalarFieldContainer[int]
    t_out: _containers.RepeatedScalarFieldContainer[int]
    checkout_stay_ids: _containers.RepeatedScalarFieldContainer[int]
    checkout_person_refs: _containers.RepeatedScalarFieldContainer[str]
    checkout_t_out: _containers.RepeatedScalarFieldContainer[int]
    request_id: str
    def __init__(self, batch_id: _Optional[int] = ..., source: _Optional[_Union[_common_pb2.SourceApp, str]] = ..., person_refs: _Optional[_Iterable[str]] = ..., venue_ids: _Optional[_Iterable[int]] = ..., t_in: _Optional[_Iterable[int]] = ..., t_out: _Optional[_Iterable[int]] = ..., checkout_stay_ids: _Optional[_Iterable[int]] = ..., checkout_person_refs: _Optional[_Iterable[str]] = ..., checkout_t_out: _Optional[_Iterable[int]] = ..., request_id: _Optional[str] = ...) -> None: ...

class IngestAck(_message.Message):
    __slots__ = ("batch_id", "stay_ids", "checked_out")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STAY_IDS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_OUT_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    stay_ids: _containers.RepeatedScalarFieldContainer[int]
    checked_out: int
    def __init__(self, batch_id: _Optional[int] = ..., stay_ids: _Optional[_Iterable[int]] = ..., checked_out: _Optional[int] = ...) -> None: ...

class IssuePersonalCodeRequest(_message.Message):
    __slots__ = ("person", "valid_seconds")
    PERSON_FIELD_NUMBER: _ClassVar[int]
    VALID_SECONDS_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.PersonRef
    valid_seconds: int
    def __init__(self, person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., valid_seconds: _Optional[int] = ...) -> None: ...

class PersonalCode(_message.Message):
    __slots__ = ("payload", "expires_at", "svg", "png")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SVG_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    payload: str
    expires_at: int
    svg: bytes
    png: bytes
    def __init__(self, payload: _Optional[str] = ..., expires_at: _Optional[int] = ..., svg: _Optional[bytes] = ..., png: _Optional[bytes] = ...) -> None: ...
