"""Contact-tracing engine: interval-overlap and exposure queries over check-in stays.

>>> from tokhai_engine import Engine
>>> engine = Engine()
>>> t = 1_630_000_000
>>> ids = engine.add_stays([1, 2], [10, 10], [t, t + 1800], [t + 3600, t + 7200])
>>> c = engine.contacts(1, t, t + 86_400)
>>> c.person.tolist(), c.exposure.tolist()
([2], [1800])
"""

from ._engine import (
    MAX_TIME,
    MIN_TIME,
    Cancel,
    ClosedError,
    CorruptStoreError,
    DtypeError,
    InvalidInputError,
    QueryCancelledError,
    StoreError,
    StoreInterruptedError,
    StoreLockedError,
    UnknownFormatError,
    UnknownStayError,
)
from .engine import Engine
from .results import Checkins, ContactPairs, Contacts, Present, Sites, Stays, Trace

__all__ = [
    "MAX_TIME",
    "MIN_TIME",
    "Cancel",
    "Checkins",
    "ClosedError",
    "ContactPairs",
    "Contacts",
    "CorruptStoreError",
    "DtypeError",
    "Engine",
    "InvalidInputError",
    "Present",
    "QueryCancelledError",
    "Sites",
    "Stays",
    "StoreError",
    "StoreInterruptedError",
    "StoreLockedError",
    "Trace",
    "UnknownFormatError",
    "UnknownStayError",
]
