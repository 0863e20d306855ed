from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SourceApp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_APP_UNSPECIFIED: _ClassVar[SourceApp]
    SOURCE_APP_TO_KHAI_Y_TE: _ClassVar[SourceApp]
    SOURCE_APP_NCOVI: _ClassVar[SourceApp]
    SOURCE_APP_BLUEZONE: _ClassVar[SourceApp]
    SOURCE_APP_VENUE_DEVICE: _ClassVar[SourceApp]
SOURCE_APP_UNSPECIFIED: SourceApp
SOURCE_APP_TO_KHAI_Y_TE: SourceApp
SOURCE_APP_NCOVI: SourceApp
SOURCE_APP_BLUEZONE: SourceApp
SOURCE_APP_VENUE_DEVICE: SourceApp

class PersonRef(_message.Message):
    __slots__ = ("citizen_id", "phone")
    CITIZEN_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    citizen_id: str
    phone: str
    def __init__(self, citizen_id: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Person(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ContactDetails(_message.Message):
    __slots__ = ("name", "phone")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...
