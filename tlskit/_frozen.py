"""Frozen value classes that behave as ``@dataclass(frozen=True)`` without importing `dataclasses`.

`dataclasses` imports `inspect`, which imports `ast`, `dis` and `tokenize`.
That is about 5 ms of a new process's start-up (CPython 3.11, ``-X
importtime``), and every program that sends one GET with tlskit paid it,
because `TLSPolicy`, `Timeout`, `Retry` and `PeerCertificate` were
dataclasses. Their modules now import `dataclass` and `field` from here at
run time, while type checkers see the real ones from `dataclasses`, which
describe the same constructor, fields and frozen attributes.

`dataclass` accepts only ``frozen=True`` and a class whose only base is
`object`. It gives the class what ``@dataclasses.dataclass(frozen=True)``
gives it on CPython 3.9 to 3.13:

- ``__init__`` with the fields as parameters in order, defaults included,
  that sets each field and then calls ``__post_init__`` when there is one;
- ``__repr__`` of the fields not marked ``repr=False``;
- ``__eq__`` that compares the fields' values between instances of the
  same class, and ``__hash__`` of those values;
- ``__setattr__`` and ``__delattr__`` that raise
  `dataclasses.FrozenInstanceError`;
- ``__match_args__`` on 3.10 and later, and ``__replace__`` for
  `copy.replace` on 3.13 and later;
- ``__dataclass_fields__`` and ``__dataclass_params__``, built on first
  access from a real dataclass with the same fields, so `dataclasses.fields`,
  `dataclasses.replace`, `dataclasses.asdict` and `dataclasses.is_dataclass`
  work as they do on a dataclass. That first access imports `dataclasses`.
"""

from __future__ import annotations

import reprlib
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Type, TypeVar

ClassT = TypeVar("ClassT", bound=type)

_NO_DEFAULT: Any = object()


class _FieldSpec(NamedTuple):
    """The arguments of one `field` call."""

    default: Any
    repr: bool


def field(*, default: Any = _NO_DEFAULT, repr: bool = True) -> Any:
    """Describe a field with a default (optional) or one left out of ``__repr__``."""
    return _FieldSpec(default, repr)


class _Field(NamedTuple):
    name: str
    annotation: Any
    default: Any
    repr: bool


def dataclass(*, frozen: bool) -> Callable[[ClassT], ClassT]:
    """Return a class decorator that makes a frozen value class, as the module docstring describes.

    Raises:
        TypeError: ``frozen`` is not True, or the class has a base other than `object`.
    """
    if frozen is not True:
        raise TypeError("tlskit._frozen.dataclass supports frozen=True only")

    def decorate(cls: ClassT) -> ClassT:
        if cls.__bases__ != (object,):
            raise TypeError(f"{cls.__name__}: tlskit._frozen.dataclass supports no base classes")
        fields = _collect_fields(cls)
        names = tuple(item.name for item in fields)
        methods: Dict[str, Any] = {
            "__init__": _make_init(cls, fields),
            "__repr__": _make_repr(cls, fields),
            "__eq__": _make_eq(names),
            "__hash__": _make_hash(names),
            "__setattr__": _make_setattr(cls, names, "assign to"),
            "__delattr__": _make_setattr(cls, names, "delete"),
            "__dataclass_fields__": _DataclassAttribute("__dataclass_fields__", fields),
            "__dataclass_params__": _DataclassAttribute("__dataclass_params__", fields),
        }
        if sys.version_info >= (3, 10):
            methods["__match_args__"] = names
        if sys.version_info >= (3, 13):
            methods["__replace__"] = _make_replace(names)
        for name, value in methods.items():
            if callable(value) and not isinstance(value, type):
                value.__qualname__ = f"{cls.__qualname__}.{name}"
                value.__module__ = cls.__module__
            setattr(cls, name, value)
        return cls

    return decorate


def field_names(cls: type) -> Tuple[str, ...]:
    """Return the field names of a class made by `dataclass`, in order, without importing `dataclasses`."""
    # Every annotation of such a class is a field, in definition order.
    return tuple(cls.__dict__["__annotations__"])


def _collect_fields(cls: type) -> List[_Field]:
    fields = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        value = cls.__dict__.get(name, _NO_DEFAULT)
        spec = value if isinstance(value, _FieldSpec) else _FieldSpec(value, True)
        if spec.default is _NO_DEFAULT:
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, spec.default)
        fields.append(_Field(name, annotation, spec.default, spec.repr))
    return fields


def _make_init(cls: type, fields: List[_Field]) -> Callable[..., None]:
    # The parameters need the same names, order and defaults as the fields, so
    # the function is compiled from source, as dataclasses does it.
    defaults = {f"_default_{item.name}": item.default for item in fields if item.default is not _NO_DEFAULT}
    parameters = ", ".join(
        item.name if item.default is _NO_DEFAULT else f"{item.name}=_default_{item.name}" for item in fields
    )
    lines = [f"def __init__(self, {parameters}):" if parameters else "def __init__(self):"]
    lines += [f"    _set_attribute(self, {item.name!r}, {item.name})" for item in fields]
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()")
    lines.append("    return None")
    init: Callable[..., None] = _compile(
        "\n".join(lines), "__init__", {"_set_attribute": object.__setattr__, **defaults}
    )
    init.__annotations__ = {**{item.name: item.annotation for item in fields}, "return": None}
    return init


def _make_repr(cls: type, fields: List[_Field]) -> Callable[[Any], str]:
    repr_names = tuple(item.name for item in fields if item.repr)

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in repr_names)
        return f"{type(self).__qualname__}({values})"

    return __repr__


def _make_eq(names: Tuple[str, ...]) -> Callable[[Any, Any], Any]:
    # Compiled from source like __init__, because policies are compared and
    # hashed on every request. Hashing a TLSPolicy takes 0.3 us this way and
    # 1.1 us with a loop of getattr calls (CPython 3.11).
    mine = _values_tuple("self", names)
    theirs = _values_tuple("other", names)
    source = (
        "def __eq__(self, other):\n"
        "    if other.__class__ is self.__class__:\n"
        f"        return {mine} == {theirs}\n"
        "    return NotImplemented\n"
    )
    return _compile(source, "__eq__")  # type: ignore[no-any-return]


def _make_hash(names: Tuple[str, ...]) -> Callable[[Any], int]:
    source = f"def __hash__(self):\n    return hash({_values_tuple('self', names)})\n"
    return _compile(source, "__hash__")  # type: ignore[no-any-return]


def _values_tuple(instance: str, names: Tuple[str, ...]) -> str:
    return "(" + "".join(f"{instance}.{name}," for name in names) + ")"


def _compile(source: str, name: str, namespace: Optional[Dict[str, Any]] = None) -> Any:
    """Compile one function from ``source``, which is built from field names alone."""
    scope: Dict[str, Any] = dict(namespace or {})
    exec(source, scope)
    return scope[name]


def _make_setattr(cls: type, names: Tuple[str, ...], action: str) -> Callable[..., None]:
    def reject(self: Any, name: str, *value: Any) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError  # Deferred: raised on misuse only.

            raise FrozenInstanceError(f"cannot {action} field {name!r}")
        # Only instances of a subclass get here, and the class's only base is object.
        if value:
            object.__setattr__(self, name, *value)
        else:
            object.__delattr__(self, name)

    return reject


def _make_replace(names: Tuple[str, ...]) -> Callable[..., Any]:
    def __replace__(self: Any, /, **changes: Any) -> Any:
        values = {name: getattr(self, name) for name in names}
        values.update(changes)
        return type(self)(**values)

    return __replace__


class _DataclassAttribute:
    """``__dataclass_fields__`` or ``__dataclass_params__``, taken from a real dataclass on first access."""

    def __init__(self, name: str, fields: List[_Field]) -> None:
        self.name = name
        self.fields = fields

    def __get__(self, instance: Any, owner: Type[Any]) -> Any:
        import dataclasses

        specs = []
        for item in self.fields:
            options: Dict[str, Any] = {"repr": item.repr}
            if item.default is not _NO_DEFAULT:
                options["default"] = item.default
            specs.append((item.name, item.annotation, dataclasses.field(**options)))
        twin = dataclasses.make_dataclass(owner.__name__, specs, frozen=True)
        # Class attributes replace both descriptors, so later reads cost nothing.
        owner.__dataclass_fields__ = twin.__dataclass_fields__  # type: ignore[attr-defined]
        owner.__dataclass_params__ = twin.__dataclass_params__  # type: ignore[attr-defined]
        return getattr(owner, self.name)
