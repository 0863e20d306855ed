from tokhai.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Symptom(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYMPTOM_UNSPECIFIED: _ClassVar[Symptom]
    SYMPTOM_FEVER: _ClassVar[Symptom]
    SYMPTOM_COUGH: _ClassVar[Symptom]
    SYMPTOM_SHORTNESS_OF_BREATH: _ClassVar[Symptom]
    SYMPTOM_SORE_THROAT: _ClassVar[Symptom]
    SYMPTOM_LOSS_OF_TASTE_OR_SMELL: _ClassVar[Symptom]
    SYMPTOM_FATIGUE: _ClassVar[Symptom]
    SYMPTOM_OTHER: _ClassVar[Symptom]

class CaseContact(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_CONTACT_NONE: _ClassVar[CaseContact]
    CASE_CONTACT_SUSPECTED: _ClassVar[CaseContact]
    CASE_CONTACT_CONFIRMED: _ClassVar[CaseContact]

class Advice(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADVICE_UNSPECIFIED: _ClassVar[Advice]
    ADVICE_ALLOW: _ClassVar[Advice]
    ADVICE_REFER_TO_SCREENING: _ClassVar[Advice]

class QuarantineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUARANTINE_KIND_UNSPECIFIED: _ClassVar[QuarantineKind]
    QUARANTINE_KIND_FACILITY: _ClassVar[QuarantineKind]
    QUARANTINE_KIND_HOME: _ClassVar[QuarantineKind]
    QUARANTINE_KIND_LOCKDOWN_ZONE: _ClassVar[QuarantineKind]

class LineList(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE_LIST_UNSPECIFIED: _ClassVar[LineList]
    LINE_LIST_NOT_REPORTED_TODAY: _ClassVar[LineList]
    LINE_LIST_WARNING_SIGNS: _ClassVar[LineList]

class AlertLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_LEVEL_UNSPECIFIED: _ClassVar[AlertLevel]
    ALERT_LEVEL_MONITOR: _ClassVar[AlertLevel]
    ALERT_LEVEL_GET_TESTED: _ClassVar[AlertLevel]
SYMPTOM_UNSPECIFIED: Symptom
SYMPTOM_FEVER: Symptom
SYMPTOM_COUGH: Symptom
SYMPTOM_SHORTNESS_OF_BREATH: Symptom
SYMPTOM_SORE_THROAT: Symptom
SYMPTOM_LOSS_OF_TASTE_OR_SMELL: Symptom
SYMPTOM_FATIGUE: Symptom
SYMPTOM_OTHER: Symptom
CASE_CONTACT_NONE: CaseContact
CASE_CONTACT_SUSPECTED: CaseContact
CASE_CONTACT_CONFIRMED: CaseContact
ADVICE_UNSPECIFIED: Advice
ADVICE_ALLOW: Advice
ADVICE_REFER_TO_SCREENING: Advice
QUARANTINE_KIND_UNSPECIFIED: QuarantineKind
QUARANTINE_KIND_FACILITY: QuarantineKind
QUARANTINE_KIND_HOME: QuarantineKind
QUARANTINE_KIND_LOCKDOWN_ZONE: QuarantineKind
LINE_LIST_UNSPECIFIED: LineList
LINE_LIST_NOT_REPORTED_TODAY: LineList
LINE_LIST_WARNING_SIGNS: LineList
ALERT_LEVEL_UNSPECIFIED: AlertLevel
ALERT_LEVEL_MONITOR: AlertLevel
ALERT_LEVEL_GET_TESTED: AlertLevel

class Declaration(_message.Message):
    __slots__ = ("symptoms", "case_contact", "travelled_through_case_areas", "underlying_conditions", "vaccine_doses", "province_code", "district_code", "ward_code")
    SYMPTOMS_FIELD_NUMBER: _ClassVar[int]
    CASE_CONTACT_FIELD_NUMBER: _ClassVar[int]
    TRAVELLED_THROUGH_CASE_AREAS_FIELD_NUMBER: _ClassVar[int]
    UNDERLYING_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    VACCINE_DOSES_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_CODE_FIELD_NUMBER: _ClassVar[int]
    WARD_CODE_FIELD_NUMBER: _ClassVar[int]
    symptoms: _containers.RepeatedScalarFieldContainer[Symptom]
    case_contact: CaseContact
    travelled_through_case_areas: bool
    underlying_conditions: bool
    vaccine_doses: int
    province_code: str
    district_code: str
    ward_code: str
    def __init__(self, symptoms: _Optional[_Iterable[_Union[Symptom, str]]] = ..., case_contact: _Optional[_Union[CaseContact, str]] = ..., travelled_through_case_areas: _Optional[bool] = ..., underlying_conditions: _Optional[bool] = ..., vaccine_doses: _Optional[int] = ..., province_code: _Optional[str] = ..., district_code: _Optional[str] = ..., ward_code: _Optional[str] = ...) -> None: ...

class DeclareRequest(_message.Message):
    __slots__ = ("request_id", "person", "time", "source", "declaration")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DECLARATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    person: _common_pb2.PersonRef
    time: int
    source: _common_pb2.SourceApp
    declaration: Declaration
    def __init__(self, request_id: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., time: _Optional[int] = ..., source: _Optional[_Union[_common_pb2.SourceApp, str]] = ..., declaration: _Optional[_Union[Declaration, _Mapping]] = ...) -> None: ...

class EntryAdvice(_message.Message):
    __slots__ = ("advice", "reasons")
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    advice: Advice
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, advice: _Optional[_Union[Advice, str]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class DeclareResponse(_message.Message):
    __slots__ = ("declaration_id", "advice")
    DECLARATION_ID_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    declaration_id: int
    advice: EntryAdvice
    def __init__(self, declaration_id: _Optional[int] = ..., advice: _Optional[_Union[EntryAdvice, _Mapping]] = ...) -> None: ...

class QuarantineOrder(_message.Message):
    __slots__ = ("id", "person", "kind", "province_code", "place", "start", "planned_end", "active", "ended_at", "end_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    PLANNED_END_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    id: int
    person: _common_pb2.Person
    kind: QuarantineKind
    province_code: str
    place: str
    start: int
    planned_end: int
    active: bool
    ended_at: int
    end_reason: str
    def __init__(self, id: _Optional[int] = ..., person: _Optional[_Union[_common_pb2.Person, _Mapping]] = ..., kind: _Optional[_Union[QuarantineKind, str]] = ..., province_code: _Optional[str] = ..., place: _Optional[str] = ..., start: _Optional[int] = ..., planned_end: _Optional[int] = ..., active: _Optional[bool] = ..., ended_at: _Optional[int] = ..., end_reason: _Optional[str] = ...) -> None: ...

class OrderQuarantineRequest(_message.Message):
    __slots__ = ("request_id", "people", "person_ids", "kind", "province_code", "place", "start", "planned_end", "purpose")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_FIELD_NUMBER: _ClassVar[int]
    PERSON_IDS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    PLANNED_END_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    people: _containers.RepeatedCompositeFieldContainer[_common_pb2.PersonRef]
    person_ids: _containers.RepeatedScalarFieldContainer[int]
    kind: QuarantineKind
    province_code: str
    place: str
    start: int
    planned_end: int
    purpose: str
    def __init__(self, request_id: _Optional[str] = ..., people: _Optional[_Iterable[_Union[_common_pb2.PersonRef, _Mapping]]] = ..., person_ids: _Optional[_Iterable[int]] = ..., kind: _Optional[_Union[QuarantineKind, str]] = ..., province_code: _Optional[str] = ..., place: _Optional[str] = ..., start: _Optional[int] = ..., planned_end: _Optional[int] = ..., purpose: _Optional[str] = ...) -> None: ...

class OrderQuarantineResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[QuarantineOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[QuarantineOrder, _Mapping]]] = ...) -> None: ...

class EndQuarantineRequest(_message.Message):
    __slots__ = ("order_id", "reason", "time", "request_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    reason: str
    time: int
    request_id: str
    def __init__(self, order_id: _Optional[int] = ..., reason: _Optional[str] = ..., time: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReportHealthRequest(_message.Message):
    __slots__ = ("request_id", "person", "time", "source", "temperature_c", "spo2_percent", "symptoms", "breathing_difficulty", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PERSON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SPO2_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SYMPTOMS_FIELD_NUMBER: _ClassVar[int]
    BREATHING_DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    person: _common_pb2.PersonRef
    time: int
    source: _common_pb2.SourceApp
    temperature_c: float
    spo2_percent: float
    symptoms: _containers.RepeatedScalarFieldContainer[Symptom]
    breathing_difficulty: bool
    note: str
    def __init__(self, request_id: _Optional[str] = ..., person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ..., time: _Optional[int] = ..., source: _Optional[_Union[_common_pb2.SourceApp, str]] = ..., temperature_c: _Optional[float] = ..., spo2_percent: _Optional[float] = ..., symptoms: _Optional[_Iterable[_Union[Symptom, str]]] = ..., breathing_difficulty: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class ReportHealthResponse(_message.Message):
    __slots__ = ("under_quarantine", "replaced", "warning")
    UNDER_QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    under_quarantine: bool
    replaced: bool
    warning: bool
    def __init__(self, under_quarantine: _Optional[bool] = ..., replaced: _Optional[bool] = ..., warning: _Optional[bool] = ...) -> None: ...

class LineListRequest(_message.Message):
    __slots__ = ("list", "province_code", "place", "day", "purpose", "after_person_id", "page_size")
    LIST_FIELD_NUMBER: _ClassVar[int]
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    AFTER_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    list: LineList
    province_code: str
    place: str
    day: int
    purpose: str
    after_person_id: int
    page_size: int
    def __init__(self, list: _Optional[_Union[LineList, str]] = ..., province_code: _Optional[str] = ..., place: _Optional[str] = ..., day: _Optional[int] = ..., purpose: _Optional[str] = ..., after_person_id: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class LineListEntry(_message.Message):
    __slots__ = ("order", "temperature_c", "spo2_percent", "breathing_difficulty", "contact")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    SPO2_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BREATHING_DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    order: QuarantineOrder
    temperature_c: float
    spo2_percent: float
    breathing_difficulty: bool
    contact: _common_pb2.ContactDetails
    def __init__(self, order: _Optional[_Union[QuarantineOrder, _Mapping]] = ..., temperature_c: _Optional[float] = ..., spo2_percent: _Optional[float] = ..., breathing_difficulty: _Optional[bool] = ..., contact: _Optional[_Union[_common_pb2.ContactDetails, _Mapping]] = ...) -> None: ...

class LineListResponse(_message.Message):
    __slots__ = ("entries", "next_after_person_id")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LineListEntry]
    next_after_person_id: int
    def __init__(self, entries: _Optional[_Iterable[_Union[LineListEntry, _Mapping]]] = ..., next_after_person_id: _Optional[int] = ...) -> None: ...

class VenueAlert(_message.Message):
    __slots__ = ("id", "venue_id", "venue_name", "start", "end", "level", "message", "published_at", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    venue_id: int
    venue_name: str
    start: int
    end: int
    level: AlertLevel
    message: str
    published_at: int
    expires_at: int
    def __init__(self, id: _Optional[int] = ..., venue_id: _Optional[int] = ..., venue_name: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., level: _Optional[_Union[AlertLevel, str]] = ..., message: _Optional[str] = ..., published_at: _Optional[int] = ..., expires_at: _Optional[int] = ...) -> None: ...

class PublishAlertsRequest(_message.Message):
    __slots__ = ("request_id", "alerts", "purpose")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    alerts: _containers.RepeatedCompositeFieldContainer[VenueAlert]
    purpose: str
    def __init__(self, request_id: _Optional[str] = ..., alerts: _Optional[_Iterable[_Union[VenueAlert, _Mapping]]] = ..., purpose: _Optional[str] = ...) -> None: ...

class PublishAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[VenueAlert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[VenueAlert, _Mapping]]] = ...) -> None: ...

class RetractAlertRequest(_message.Message):
    __slots__ = ("alert_id",)
    ALERT_ID_FIELD_NUMBER: _ClassVar[int]
    alert_id: int
    def __init__(self, alert_id: _Optional[int] = ...) -> None: ...

class ListExposuresRequest(_message.Message):
    __slots__ = ("person",)
    PERSON_FIELD_NUMBER: _ClassVar[int]
    person: _common_pb2.PersonRef
    def __init__(self, person: _Optional[_Union[_common_pb2.PersonRef, _Mapping]] = ...) -> None: ...

class Exposure(_message.Message):
    __slots__ = ("alert", "start", "end")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    alert: VenueAlert
    start: int
    end: int
    def __init__(self, alert: _Optional[_Union[VenueAlert, _Mapping]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class ListExposuresResponse(_message.Message):
    __slots__ = ("exposures",)
    EXPOSURES_FIELD_NUMBER: _ClassVar[int]
    exposures: _containers.RepeatedCompositeFieldContainer[Exposure]
    def __init__(self, exposures: _Optional[_Iterable[_Union[Exposure, _Mapping]]] = ...) -> None: ...

class ListVenueAlertsRequest(_message.Message):
    __slots__ = ("since", "after_id", "page_size")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    since: int
    after_id: int
    page_size: int
    def __init__(self, since: _Optional[int] = ..., after_id: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListVenueAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_after_id")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[VenueAlert]
    next_after_id: int
    def __init__(self, alerts: _Optional[_Iterable[_Union[VenueAlert, _Mapping]]] = ..., next_after_id: _Optional[int] = ...) -> None: ...
