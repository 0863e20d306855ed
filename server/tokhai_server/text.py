"""Free text from callers: NFC-normalised, bounded, no control characters
(PostgreSQL cannot store NUL, and nothing shown to people needs them) and
no invisible ones (a zero-width space, a direction override, a soft
hyphen, private code points): a name that looks empty, or like another,
is refused."""

from __future__ import annotations

import unicodedata

from .errors import Invalid

_ALLOWED_CONTROLS = {"\n", "\t"}
#: Unicode categories refused: control, surrogate, private use.
_REFUSED = {"Cc", "Cs", "Co"}
#: Format characters refused: those that hide text or change its direction.
#: (The zero-width joiners that emoji and some scripts need are kept.)
_INVISIBLE = {"\u00ad", "\u200b", "\u200e", "\u200f", "\u2060", "\ufeff"} | {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def clean(value: str, what: str, limit: int, *, required: bool = False) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise Invalid(f"{what} is required")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return plain(value, what, allowed=_ALLOWED_CONTROLS)


def plain(value: str, what: str, *, allowed: set[str] = frozenset()) -> str:
    """`value` as given, refused if it holds control or invisible characters (but `allowed`)."""
    if any((unicodedata.category(c) in _REFUSED or c in _INVISIBLE) and c not in allowed for c in value):
        raise Invalid(f"{what} holds control or invisible characters")
    return value


def id_(value: int, what: str) -> int:
    """A uint64 id from the API that must fit the database's signed BIGINT."""
    if value >= 1 << 63:
        raise Invalid(f"{what} {value} is not an id this service issues")
    return value
