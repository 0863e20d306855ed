"""The caller of the call being handled, set by the interceptor."""

from __future__ import annotations

import contextvars

from ..auth import Principal

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def principal() -> Principal:
    return _principal.get()


def set_principal(p: Principal) -> contextvars.Token:
    return _principal.set(p)
