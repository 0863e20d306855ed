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
    if required and not readable(value):
        raise Invalid(f"{what} is required")
    return value


def readable(value: str) -> bool:
    """Whether `value` has something to read: a letter, a digit or a symbol
    (not spaces and marks alone)."""
    return any(unicodedata.category(c)[0] in "LNS" for c in value)


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


#: What people write between a number's groups, once dashes are one: "0912
#: 345 678", "0912.34.56.78", "0912 - 345 - 678", "+84 (912) 345-678",
#: "(028)38234567".
_GROUPED = re.compile(r"(?<!\d)\(?\+?\d+\)?(?:(?:\s*[-.]+\s*|\s+|(?<=\)))\(?\+?\d+\)?)*")
#: Numbers that are no one's, taken out first where they stand alone (not
#: inside "0912.34.56.78"): dates (15-07-2021, 2021.07.15, 15/7/21) and
#: the reports' area keys (79-760-26740).
_DAY, _MONTH = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])"
_NOT_PERSONAL = re.compile(
    rf"(?<![\d./-])(?:{_DAY}[-./]{_MONTH}[-./](?:\d{{4}}|\d{{2}})|\d{{4}}[-./]{_MONTH}[-./]{_DAY}|\d{{2}}-\d{{3}}-\d{{5}})(?![./-]?\d)"
)
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
#: The second digit of a phone number written from 0: landlines 02, mobiles 03, 05, 07, 08, 09.
_PHONE_PREFIXES = "235789"


def holds_personal_number(value: str) -> bool:
    """Whether `value` may hold a phone or citizen id number, however
    written: 9 digits or more in a row; or, in groups, from a first group
    of 3 digits or more, a phone's 10 or 11 digits from 02, 03, 05, 07, 08
    or 09, or a citizen id's 12 from 0; a phone's 11 or 12 from "84" or
    "+84", 13 or 14 from 0084; or the old identity card's 3 + 3 + 3. Any
    groups of a run may be the number (after "F1 ", after "sđt").
    Fullwidth digits count as digits; dates, area keys and amounts written
    in thousands ("1.500.000", "125.350.000") do not."""
    value = _NOT_PERSONAL.sub(" ", unicodedata.normalize("NFKC", value).translate(_DASHES))
    if re.search(r"\d{9}", value):
        return True
    for run in _GROUPED.finditer(value):
        parts = re.split(r"(\d+)", run.group())
        groups, between = parts[1::2], parts[2:-1:2]
        plus = "+" in parts[0]
        amount = [False] * len(groups) if plus else _amounts(groups, between)
        for i, first in enumerate(groups):
            if not first.strip("0"):
                continue  # no number begins with a group of zeros
            for j in range(i + 1, len(groups) + 1):
                if amount[j - 1]:
                    break
                digits = "".join(groups[i:j])
                if len(digits) > 14:
                    break  # longer than any number looked for
                if (
                    (digits.startswith("0084") and len(digits) in (13, 14))
                    or (digits[0] == "0" and len(first) >= 3 and (len(digits) == 12 or (len(digits) in (10, 11) and digits[1] in _PHONE_PREFIXES)))
                    or ((first == "84" or (i == 0 and plus)) and digits.startswith("84") and len(digits) in (11, 12))
                    or [len(g) for g in groups[i:j]] == [3, 3, 3]
                ):
                    return True
    return False


def _amounts(groups: list[str], between: list[str]) -> list[bool]:
    """Which of a run's digit groups belong to an amount written in
    thousands with dots, a 000 among them ("2.000", "1.500.000",
    "125.350.000"), which no phone or citizen id number is (they begin with
    0). Without a 000 it may be the old card's 3 + 3 + 3 ("123.456.789")."""
    amount = [False] * len(groups)
    start = 0
    for end in range(1, len(groups) + 1):
        if end < len(groups) and between[end - 1] == ".":
            continue
        first, rest = groups[start], groups[start + 1 : end]
        if rest and re.fullmatch(r"[1-9]\d{0,2}", first) and all(len(g) == 3 for g in rest) and "000" in rest:
            amount[start:end] = [True] * (end - start)
        start = end
    return amount
