"""Small-count suppression."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from khoyte.security.privacy import suppress


def test_examples() -> None:
    assert suppress({"a": 0, "b": 3, "c": 12, "d": 40}, 5) == {
        "a": 0,
        "b": None,
        "c": None,
        "d": 40,
    }
    assert suppress({"a": 2, "b": 4, "c": 9}, 5) == {"a": None, "b": None, "c": 9}
    assert suppress({"a": 2, "b": 4}, 0) == {"a": 2, "b": 4}
    assert suppress({"a": 3}, 5) == {"a": None}


@given(
    st.dictionaries(st.text(max_size=3), st.integers(0, 50), max_size=12),
    st.integers(0, 12),
)
def test_no_small_count_survives_and_nothing_else_changes(counts: dict[str, int], t: int) -> None:
    out = suppress(counts, t)
    assert out.keys() == counts.keys()
    for k, v in out.items():
        if v is not None:
            assert v == counts[k]
            if t > 1:
                assert not (0 < v < t)
    hidden = [k for k, v in out.items() if v is None]
    if t > 1 and any(v > 0 for v in counts.values()):
        # a lone hidden cell could be recovered from the total
        nonzero = sum(1 for v in counts.values() if v > 0)
        assert len(hidden) != 1 or nonzero == 1
