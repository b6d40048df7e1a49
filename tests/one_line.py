"""Assert that a call fails with a one-line error naming given words (the bad-input tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def one_line(call: Callable[[], object], *words: str,
             error: type[Exception] = ValueError) -> None:
    """``call()`` raises ``error`` whose message is one line containing every word."""
    with pytest.raises(error) as err:
        call()
    text = str(err.value)
    assert "\n" not in text, text
    for w in words:
        assert w in text, text
