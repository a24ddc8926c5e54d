"""Headers: case-insensitive lookup, repeats kept in order, get with defaults."""

from __future__ import annotations

from typing import List, Tuple

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


def test_split_later_matches_eager_headers() -> None:
    calls: List[str] = []

    def split(text: str) -> List[Tuple[str, str]]:
        calls.append(text)
        pairs = [line.split(": ", 1) for line in text.split("\r\n") if line]
        return [(name, value) for name, value in pairs]

    lazy = Headers.split_later(split, "A: 1\r\nb: 2\r\nA: 3\r\n")
    assert calls == []
    assert lazy == Headers([("A", "1"), ("b", "2"), ("A", "3")])
    assert lazy.get_all("a") == ["1", "3"]
    assert lazy["B"] == "2"
    assert len(calls) == 1
