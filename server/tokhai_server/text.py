"""Free text from callers: NFC-normalised, bounded, no control characters
(PostgreSQL cannot store NUL, and nothing shown to people needs them) and
no invisible ones (a zero-width space, a direction override, a soft
hyphen, private code points): a name that looks empty, or like another,
is refused."""

from __future__ import annotations

import re
import unicodedata

from .errors import Invalid

_ALLOWED_CONTROLS = {"\n", "\t"}
#: Unicode categories refused: control, surrogate, private use.
_REFUSED = {"Cc", "Cs", "Co"}
#: Characters refused that show nothing or change the direction of text:
#: Unicode's default-ignorable code points (DerivedCoreProperties.txt), but
#: the zero-width joiners and variation selectors that emoji and some
#: scripts need; and the braille blank, which shows as a space.
_INVISIBLE = {
    chr(c)
    for first, last in [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
        (0x200B, 0x200B), (0x200E, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x2800, 0x2800), (0x3164, 0x3164),
        (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE00FF),
    ]
    for c in range(first, last + 1)
}  # fmt: skip


def clean(value: str, what: str, limit: int, *, required: bool = False) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise Invalid(f"{what} is longer than {limit} characters")
    plain(value, what, allowed=_ALLOWED_CONTROLS)
    # Something to read: a letter, a digit or a symbol (not spaces and marks alone).
    if required and not any(unicodedata.category(c)[0] in "LNS" for c in value):
        raise Invalid(f"{what} is required")
    return value


def plain(value: str, what: str, *, allowed: set[str] = frozenset()) -> str:
    """`value` as given, refused if it holds control or invisible characters (but `allowed`)."""
    # Tag characters are kept where they spell a flag (England, Scotland, Wales).
    shown = _TAG_FLAG.sub("", value)
    if any((unicodedata.category(c) in _REFUSED or c in _INVISIBLE) and c not in allowed for c in shown):
        raise Invalid(f"{what} holds control or invisible characters")
    return value


def _tags(text: str) -> str:
    """`text` in tag characters, as a flag's tag sequence spells it."""
    return "".join(chr(0xE0000 + ord(c)) for c in text)


#: The flags spelled by tag characters that Unicode recommends showing
#: (England, Scotland, Wales): any other run of tags would be hidden text.
_TAG_FLAG = re.compile("\U0001F3F4(?:" + "|".join(_tags(f"gb{part}") for part in ("eng", "sct", "wls")) + ")\U000E007F")


def id_(value: int, what: str) -> int:
    """A uint64 id from the API that must fit the database's signed BIGINT."""
    if value >= 1 << 63:
        raise Invalid(f"{what} {value} is not an id this service issues")
    return value
