"""The tracing service's own helpers, against NumPy's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tokhai_server.services.tracing import in_sorted

ids = st.lists(st.integers(0, 40))


@settings(deadline=None)  # a shared machine may pause any example
@given(ids, ids)
def test_in_sorted_agrees_with_isin(values, members):
    values = np.array(values, dtype=np.uint64)
    members = np.unique(np.array(members, dtype=np.uint64))
    assert in_sorted(values, members).tolist() == np.isin(values, members).tolist()
