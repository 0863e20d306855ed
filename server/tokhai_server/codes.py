"""Signed QR codes: venue codes that app backends verify offline, and
personal codes that venue staff scan for people without the app.

    TKH1.<venue id>.<key id>.<signature>
    TKP1.<person id>.<expires at>.<key id>.<signature>

The signature is Ed25519 over everything before its dot, base64url without
padding. Keys rotate: a new key signs new codes and old codes keep working
until their key is revoked. Private keys are kept encrypted (AES-GCM) under
the data directory's master key.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import threading
import time
import unicodedata
from pathlib import Path

import segno
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from . import db
from .errors import FailedPrecondition, Invalid, NotFound, Unavailable

VENUE, PERSON = "TKH1", "TKP1"


def _sealed_for(key_id: int) -> bytes:
    """What a signing key's sealing is bound to: its id, so that no key's
    sealed bytes pass for another's."""
    return b"tokhai signing key %d" % key_id


def _unseal(aead: AESGCM, key_id: int, sealed: bytes) -> bytes:
    """A signing key's private bytes, as the database holds them: nonce, then ciphertext."""
    return aead.decrypt(sealed[:12], sealed[12:], _sealed_for(key_id))


def opens(master_key: bytes, key_id: int, sealed: bytes) -> bool:
    """Whether `master_key` opens a signing key sealed as the database holds it."""
    try:
        _unseal(AESGCM(master_key), key_id, sealed)
    except InvalidTag:
        return False
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    id: int
    public: Ed25519PublicKey
    public_raw: bytes
    created_at: int
    revoked_at: int | None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


#: An Ed25519 signature (64 bytes) in unpadded base64url.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")


def _unb64(text: str) -> bytes:
    """The signature's bytes; the one spelling of them `_b64` gives, or
    ValueError: no other text may pass for a signed code."""
    raw = base64.urlsafe_b64decode(text + "==") if _SIGNATURE.fullmatch(text) else b""
    if _b64(raw) != text:
        raise ValueError("not a signature in unpadded base64url")
    return raw


class Codes:
    def __init__(self, engine: sa.Engine, master_key: bytes) -> None:
        self._engine, self._aead = engine, AESGCM(master_key)
        self._lock = threading.Lock()
        # Reloads take turns from their read to their publish: one that read
        # before a revocation must not publish after the revocation's own. A
        # revocation holds it throughout (reentrant: it reloads within).
        self._reloading = threading.RLock()
        self._signer: tuple[int, Ed25519PrivateKey] | None = None
        #: Verified codes by (prefix, payload): a check-in finds its code here.
        self._verified: dict[tuple[str, str], tuple[list[int], int]] = {}
        self.reload()
        # The first key, on first start. Every key revoked stays so, across
        # restarts too, until an admin rotates.
        if not self.keys:
            self.rotate()

    def reload(self) -> None:
        with self._reloading:
            with self._engine.connect() as conn:
                rows = conn.execute(sa.select(db.signing_keys).order_by(db.signing_keys.c.id.desc())).all()
            keys = [SigningKey(r.id, Ed25519PublicKey.from_public_bytes(r.public_key), r.public_key, r.created_at, r.revoked_at) for r in rows]
            current = next((r for r in rows if r.revoked_at is None), None)
            signer = None
            if current is not None:
                raw = _unseal(self._aead, current.id, current.private_key)
                signer = (current.id, Ed25519PrivateKey.from_private_bytes(raw))
            with self._lock:
                self.keys, self._by_id, self._signer = keys, {k.id: k for k in keys}, signer
                self._verified.clear()

    def rotate(self) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        with self._engine.begin() as conn:
            key_id = conn.execute(
                db.signing_keys.insert().values(public_key=public, private_key=b"", created_at=int(time.time()))
            ).inserted_primary_key[0]
            nonce = os.urandom(12)
            sealed = nonce + self._aead.encrypt(nonce, raw, _sealed_for(key_id))
            conn.execute(db.signing_keys.update().where(db.signing_keys.c.id == key_id).values(private_key=sealed))
        self.reload()
        return self._by_id[key_id]

    def revoke(self, key_id: int) -> SigningKey:
        now = int(time.time())
        # No reload runs meanwhile: one that read before the change is
        # stored would publish the key as live again.
        with self._reloading:
            # Refused here before it is stored: a reload that then failed (the
            # database locked past its timeout) left the key accepting and
            # signing codes until the next rotation or restart.
            before = self._refuse(key_id, now)
            try:
                with self._engine.begin() as conn:
                    done = conn.execute(
                        db.signing_keys.update().where(db.signing_keys.c.id == key_id, db.signing_keys.c.revoked_at.is_(None)).values(revoked_at=now)
                    )
            except BaseException:
                with self._lock:  # not revoked after all
                    self.keys, self._by_id, self._signer = before
                raise
            if done.rowcount != 1 and key_id not in self._by_id:
                raise NotFound(f"no signing key {key_id}")
            self.reload()
            return self._by_id[key_id]

    def _refuse(self, key_id: int, at: int) -> tuple:
        """Key `key_id`, revoked at `at`, as this process sees the keys;
        returns what it saw before."""
        with self._lock:
            before = (self.keys, self._by_id, self._signer)
            key = self._by_id.get(key_id)
            if key is None or key.revoked_at is not None:
                return before
            revoked = dataclasses.replace(key, revoked_at=at)
            self.keys = [revoked if k.id == key_id else k for k in self.keys]
            self._by_id = {**self._by_id, key_id: revoked}
            if self._signer is not None and self._signer[0] == key_id:
                self._signer = None  # until a reload finds the key that signs now
            return before

    def _sign(self, text: str) -> str:
        if self._signer is None:
            if any(k.revoked_at is None for k in self.keys):
                raise Unavailable("the signing key is being changed: retry in a moment")
            raise FailedPrecondition("every signing key is revoked: an admin must rotate to a new one")
        key_id, private = self._signer
        body = f"{text}.{key_id}"
        return f"{body}.{_b64(private.sign(body.encode()))}"

    def venue_code(self, venue_id: int) -> str:
        return self._sign(f"{VENUE}.{venue_id}")

    def personal_code(self, person_id: int, expires_at: int) -> str:
        return self._sign(f"{PERSON}.{person_id}.{expires_at}")

    def _verify(self, payload: str, prefix: str, fields: int, what: str, *, revoked_ok: bool = False) -> list[int]:
        """The numbers of a code signed by one of our keys, not revoked unless
        `revoked_ok` (a retry's, whose first try may have been taken before
        the revocation: only what that try stored is taken up then)."""
        payload = payload.strip()  # as a scanner may have sent it, with a line end
        if len(payload) > 200:  # a code is under 130 characters
            raise Invalid(f"{what} is not a Tokhai {what} ({prefix}...): {len(payload):,} characters")
        hit = self._verified.get((prefix, payload))
        if hit is not None:
            values, key_id = hit
            key = self._by_id.get(key_id)
            if key is not None and (key.revoked_at is None or revoked_ok):
                return values
        *values, key_id = _fields(payload, prefix, fields, what)
        parts = payload.split(".")
        key = self._by_id.get(key_id)
        if key is None:
            raise NotFound(f"{what} is signed by unknown key {key_id}")
        if key.revoked_at is not None and not revoked_ok:
            raise Invalid(f"{what} is signed by key {key_id}, revoked")
        try:
            key.public.verify(_unb64(parts[-1]), payload.rsplit(".", 1)[0].encode())
        except (InvalidSignature, ValueError):
            raise Invalid(f"{what} signature does not verify: the code was forged or altered") from None
        if len(self._verified) > 500_000:
            self._verified.clear()
        self._verified[(prefix, payload)] = (values, key_id)
        return values

    def verify_venue(self, payload: str, *, revoked_ok: bool = False) -> int:
        return self._verify(payload, VENUE, 1, "venue code", revoked_ok=revoked_ok)[0]

    def verify_personal(self, payload: str, now: int, *, revoked_ok: bool = False) -> int:
        person_id, expires_at = self._verify(payload, PERSON, 2, "personal code", revoked_ok=revoked_ok)
        if expires_at < now:
            raise Invalid(f"personal code expired at {expires_at}")
        return person_id


def person_of_verified(payload: str) -> int:
    """The person of a personal code verified before: a retry's, which is
    the same request as its first try's, whose answer stands though the
    code has expired or its key been revoked since."""
    return _fields(payload.strip(), PERSON, 2, "personal code")[0]


def _fields(payload: str, prefix: str, fields: int, what: str) -> list[int]:
    """The numbers of a code `prefix.n1....nk.key_id.signature`, the key id last."""
    parts = payload.split(".")
    if len(parts) != fields + 3 or parts[0] != prefix or not all(p.isascii() and p.isdigit() for p in parts[1:-1]):
        raise Invalid(f"{what} is not a Tokhai {what} ({prefix}...)")
    return [int(p) for p in parts[1:-1]]


def svg(payload: str) -> bytes:
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="svg", scale=4, border=4)
    return out.getvalue()


def png(payload: str, scale: int = 8) -> bytes:
    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def poster(payload: str, name: str, place: str) -> bytes:
    """An A4 page at 150 dpi: the code, the venue's name and its province in
    Vietnamese, and what to do. Needs a font with Vietnamese letters (DejaVu,
    Debian's fonts-dejavu-core)."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = next((p for p in _FONTS if Path(p).exists()), None)
    if font_path is None:
        raise FailedPrecondition("posters need the DejaVu fonts on the server (apt-get install fonts-dejavu-core)")
    width, height = 1240, 1754
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)

    def wrapped(text: str, font) -> list[str]:  # noqa: ANN001 - a FreeTypeFont
        lines, line = [], ""
        for word in unicodedata.normalize("NFC", text).split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) > width - 160 and line:
                lines.append(line)
                line = word
            else:
                line = trial
        return [*lines, line]

    def centred(text: str, y: int, size: int, room: int = height) -> int:
        """Draws `text` from `y` down, in lines; smaller than `size` where
        it would not fit in `room` pixels, across or down."""
        while True:
            font = ImageFont.truetype(font_path, size)
            lines = wrapped(text, font)
            fits = len(lines) * int(size * 1.3) <= room and all(draw.textlength(s, font=font) <= width - 160 for s in lines)
            if fits or size <= 16:
                break
            size -= 4
        for text_line in lines:
            draw.text(((width - draw.textlength(text_line, font=font)) / 2, y), text_line, font=font, fill="black")
            y += int(size * 1.3)
        return y

    y = centred("QUÉT MÃ QR TRƯỚC KHI VÀO", 110, 64)
    y = centred("Khai báo y tế bằng ứng dụng Tờ khai y tế, NCOVI hoặc Bluezone", y + 10, 32)
    code = Image.open(io.BytesIO(png(payload, scale=12))).convert("RGB")
    code = code.resize((900, 900), Image.NEAREST)
    page.paste(code, ((width - 900) // 2, y + 40))
    y = centred(name, y + 990, 56, room=height - 140 - (y + 990))  # the province's line below
    centred(place, y + 10, 36)
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(150, 150), optimize=True)
    return out.getvalue()
