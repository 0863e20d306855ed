"""Free text from callers: NFC-normalised, bounded, no control characters
(PostgreSQL cannot store NUL, and nothing shown to people needs them) and
no invisible ones (format characters such as a zero-width space or a
right-to-left override, private or unassigned code points): a name that
looks empty, or like another, is refused."""

from __future__ import annotations

import unicodedata

from .errors import Invalid

_ALLOWED_CONTROLS = {"\n", "\t"}
#: Unicode categories refused: control, format, surrogate, private use, unassigned.
_REFUSED = {"Cc", "Cf", "Cs", "Co", "Cn"}


def clean(value: str, what: str, limit: int, *, required: bool = False) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise Invalid(f"{what} is required")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    return plain(value, what, allowed=_ALLOWED_CONTROLS)


def plain(value: str, what: str, *, allowed: set[str] = frozenset()) -> str:
    """`value` as given, refused if it holds control or invisible characters (but `allowed`)."""
    if any(unicodedata.category(c) in _REFUSED and c not in allowed for c in value):
        raise Invalid(f"{what} holds control or invisible characters")
    return value


def id_(value: int, what: str) -> int:
    """A uint64 id from the API that must fit the database's signed BIGINT."""
    if value >= 1 << 63:
        raise Invalid(f"{what} {value} is not an id this service issues")
    return value
