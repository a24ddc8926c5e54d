"""Headers: case-insensitive lookup, repeats kept in order, get with defaults."""

from __future__ import annotations

from tlskit import Headers


def test_get_joins_repeats_and_takes_default() -> None:
    headers = Headers([("X-List", "1"), ("x-list", "2"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert headers.get("X-LIST") == "1, 2"
    assert headers.get("set-cookie") == "a=1"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers.get("missing") is None
    assert headers.get("missing", "fallback") == "fallback"
    assert headers["x-list"] == "1, 2"


def test_iteration_keeps_first_spelling() -> None:
    headers = Headers([("Content-Type", "a"), ("content-type", "b"), ("X", "1")])
    assert list(headers) == ["Content-Type", "X"]
    assert len(headers) == 2
    assert headers.fields() == [("Content-Type", "a"), ("content-type", "b"), ("X", "1")]
