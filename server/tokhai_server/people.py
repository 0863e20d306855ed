"""People are known by a keyed hash of their reference, never by it."""

from __future__ import annotations

import hashlib
import hmac
import re

from .errors import Invalid

_CITIZEN_ID = re.compile(r"[0-9]{9}|[0-9]{12}")
_PHONE = re.compile(r"(?:\+84|0)([0-9]{9})")


def normalize(kind: str, value: str) -> str:
    """`kind:value` in one canonical form, so one person is one pseudonym
    however an app spells them. Errors do not repeat the value: a mistyped
    reference is still someone's, and errors reach logs."""
    compact = re.sub(r"[\s.\-()]", "", value)
    if kind in ("citizen_id", "cccd"):
        if not _CITIZEN_ID.fullmatch(compact):
            raise Invalid(f"citizen id is not 9 or 12 digits (a {len(value)}-character value)")
        return f"cccd:{compact}"
    if kind == "phone":
        m = _PHONE.fullmatch(compact)
        if not m:
            raise Invalid(f"phone is not a Vietnamese number: 0 or +84, then 9 digits (a {len(value)}-character value)")
        return f"phone:+84{m.group(1)}"
    # Not repeated either: a reference sent the wrong way round puts the
    # number where the kind goes.
    raise Invalid(f"the person reference's kind (a {len(kind)}-character value) is neither citizen_id nor phone")


class Pseudonyms:
    """HMAC-SHA256 under a secret key: the pseudonym is the hex digest, the
    internal id its first 63 bits (fits every database's BIGINT)."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def _digest(self, text: str) -> tuple[int, bytes]:
        """The keyed hash of `text`, and its first 63 bits as an id."""
        mac = self._mac.copy()
        mac.update(text.encode())
        digest = mac.digest()
        return int.from_bytes(digest[:8], "big") >> 1, digest

    def of(self, canonical: str) -> tuple[int, str]:
        id_, digest = self._digest(canonical)
        return id_, digest.hex()

    def local(self, person_id: int, scope: str) -> int:
        """An id of the person that holds only within `scope` (a venue's day):
        the same person is one id there, and it links to no other scope's id
        nor to the national one, which a venue operator has no need of. (No
        reference is "local:...", so none collides.)"""
        return self._digest(f"local:{scope}:{person_id}")[0]

    def of_ref(self, ref, field: str = "person") -> tuple[int, str]:  # noqa: ANN001 - a PersonRef message
        """The id and pseudonym of a PersonRef, given in `field` (which errors name)."""
        kind = ref.WhichOneof("ref")
        if kind is None:
            raise Invalid(f"{field}: give citizen_id or phone")
        try:
            return self.of(normalize(kind, getattr(ref, kind)))
        except Invalid as e:
            raise Invalid(f"{field}: {e}") from None

    def ids_of_refs(self, refs: list[str], field: str = "person_refs") -> list[int]:
        """Ids of "cccd:..." / "phone:..." strings, as ingest batches carry
        them in `field` (which errors name)."""
        out = []
        for i, ref in enumerate(refs):
            kind, sep, value = ref.partition(":")
            if not sep:
                raise Invalid(f"{field}[{i}] is not 'cccd:<digits>' or 'phone:<number>'")
            try:
                out.append(self.of(normalize(kind, value))[0])
            except Invalid as e:
                raise Invalid(f"{field}[{i}]: {e}") from None
        return out
