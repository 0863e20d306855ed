from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    LEVEL_PROVINCE: _ClassVar[Level]
    LEVEL_DISTRICT: _ClassVar[Level]
    LEVEL_WARD: _ClassVar[Level]
    LEVEL_VENUE: _ClassVar[Level]

class Dataset(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_UNSPECIFIED: _ClassVar[Dataset]
    DATASET_CHECKINS_PER_DAY: _ClassVar[Dataset]
    DATASET_SYMPTOMS_PER_DAY: _ClassVar[Dataset]
    DATASET_VENUES: _ClassVar[Dataset]
    DATASET_QUARANTINE: _ClassVar[Dataset]

class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORMAT_UNSPECIFIED: _ClassVar[Format]
    FORMAT_CSV: _ClassVar[Format]
    FORMAT_PARQUET: _ClassVar[Format]
LEVEL_UNSPECIFIED: Level
LEVEL_PROVINCE: Level
LEVEL_DISTRICT: Level
LEVEL_WARD: Level
LEVEL_VENUE: Level
DATASET_UNSPECIFIED: Dataset
DATASET_CHECKINS_PER_DAY: Dataset
DATASET_SYMPTOMS_PER_DAY: Dataset
DATASET_VENUES: Dataset
DATASET_QUARANTINE: Dataset
FORMAT_UNSPECIFIED: Format
FORMAT_CSV: Format
FORMAT_PARQUET: Format

class CountsRequest(_message.Message):
    __slots__ = ("province_code", "by", "start", "end")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    by: Level
    start: int
    end: int
    def __init__(self, province_code: _Optional[str] = ..., by: _Optional[_Union[Level, str]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class CountRow(_message.Message):
    __slots__ = ("key", "day", "count", "withheld")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    key: str
    day: int
    count: int
    withheld: bool
    def __init__(self, key: _Optional[str] = ..., day: _Optional[int] = ..., count: _Optional[int] = ..., withheld: _Optional[bool] = ...) -> None: ...

class CountsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[CountRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[CountRow, _Mapping]]] = ...) -> None: ...

class VenueCountsRequest(_message.Message):
    __slots__ = ("province_code",)
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    def __init__(self, province_code: _Optional[str] = ...) -> None: ...

class VenueCountRow(_message.Message):
    __slots__ = ("province_code", "kind", "safety_level", "count")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SAFETY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    kind: int
    safety_level: int
    count: int
    def __init__(self, province_code: _Optional[str] = ..., kind: _Optional[int] = ..., safety_level: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class VenueCountsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[VenueCountRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[VenueCountRow, _Mapping]]] = ...) -> None: ...

class QuarantineCountsRequest(_message.Message):
    __slots__ = ("province_code", "day")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    day: int
    def __init__(self, province_code: _Optional[str] = ..., day: _Optional[int] = ...) -> None: ...

class QuarantineCountRow(_message.Message):
    __slots__ = ("province_code", "place", "active", "reported", "warning", "not_reported", "withheld")
    PROVINCE_CODE_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    NOT_REPORTED_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    province_code: str
    place: str
    active: int
    reported: int
    warning: int
    not_reported: int
    withheld: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, province_code: _Optional[str] = ..., place: _Optional[str] = ..., active: _Optional[int] = ..., reported: _Optional[int] = ..., warning: _Optional[int] = ..., not_reported: _Optional[int] = ..., withheld: _Optional[_Iterable[str]] = ...) -> None: ...

class QuarantineCountsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[QuarantineCountRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[QuarantineCountRow, _Mapping]]] = ...) -> None: ...

class ExportRequest(_message.Message):
    __slots__ = ("dataset", "format", "counts", "purpose")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    format: Format
    counts: CountsRequest
    purpose: str
    def __init__(self, dataset: _Optional[_Union[Dataset, str]] = ..., format: _Optional[_Union[Format, str]] = ..., counts: _Optional[_Union[CountsRequest, _Mapping]] = ..., purpose: _Optional[str] = ...) -> None: ...

class ExportChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
