"""Headers: an ordered, case-insensitive view of HTTP header fields.

Repeated fields are kept in the order received. ``headers[name]`` joins them
with ", " (RFC 9110 5.3), except Set-Cookie, whose values may contain commas
and must be read one by one with `Headers.get_all`.
"""

from __future__ import annotations

from typing import (
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
    overload,
)

_NOT_JOINABLE = "set-cookie"

_T = TypeVar("_T")


class Headers(Mapping[str, str]):
    """Case-insensitive, order-preserving header fields that keep repeats."""

    __slots__ = ("_list", "_index", "_source")

    def __init__(self, fields: Union[Iterable[Tuple[str, str]], Mapping[str, str], None] = None) -> None:
        self._list: Optional[List[Tuple[str, str]]]
        if fields is None:
            self._list = []
        elif isinstance(fields, Mapping):
            self._list = list(fields.items())
        else:
            self._list = list(fields)
        self._index: Optional[Dict[str, List[str]]] = None
        self._source: Optional[Tuple[Callable[[str], List[Tuple[str, str]]], str]] = None

    @classmethod
    def split_later(cls, split: Callable[[str], List[Tuple[str, str]]], text: str) -> Headers:
        """Return the headers that ``split(text)`` returns, calling it only when a field is first read.

        The response parser validates every field line of a head but most
        callers read few headers, so the (name, value) pairs are made on demand.
        """
        headers = cls.__new__(cls)
        headers._list = None
        headers._index = None
        headers._source = (split, text)
        return headers

    @property
    def _fields(self) -> List[Tuple[str, str]]:
        fields = self._list
        if fields is None:
            # Two threads may both split the text; each stores an equal list.
            assert self._source is not None
            split, text = self._source
            fields = self._list = split(text)
        return fields

    def _lookup(self) -> Dict[str, List[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._fields:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        values = self._lookup()[name.lower()]
        if len(values) == 1 or name.lower() == _NOT_JOINABLE:
            return values[0]
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for name, _ in self._fields:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        return len(self._lookup())

    @overload
    def get(self, name: str) -> Optional[str]: ...

    @overload
    def get(self, name: str, default: Union[str, _T]) -> Union[str, _T]: ...

    def get(self, name: str, default: object = None) -> object:
        """Return the value of ``name`` as `__getitem__` does, or ``default`` when it is missing.

        Defined here because Mapping's version raises and catches KeyError
        for every missing name, which the request path does on each response.
        """
        values = self._lookup().get(name.lower())
        if values is None:
            return default
        if len(values) == 1 or name.lower() == _NOT_JOINABLE:
            return values[0]
        return ", ".join(values)

    def get_all(self, name: str) -> List[str]:
        """Return every value of ``name`` in the order received, or an empty list."""
        return list(self._lookup().get(name.lower(), ()))

    def fields(self) -> List[Tuple[str, str]]:
        """Return the (name, value) pairs as received, repeats included."""
        return list(self._fields)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._lookup() == other._lookup()
        if isinstance(other, Mapping):
            return {k.lower(): v for k, v in self.items()} == {k.lower(): v for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"
