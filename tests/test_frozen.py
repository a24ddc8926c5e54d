"""tlskit._frozen.dataclass against dataclasses.dataclass(frozen=True) on the same class bodies."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from typing import Any, List, Optional, Tuple, Type

import pytest

import tlskit
from tlskit import _frozen


def make_pair() -> Tuple[Type[Any], Type[Any]]:
    """Return one class body decorated by dataclasses and by tlskit._frozen."""
    classes: List[Type[Any]] = []
    for decorate, field in (
        (dataclasses.dataclass(frozen=True), dataclasses.field),
        (_frozen.dataclass(frozen=True), _frozen.field),
    ):

        class Sample:
            """A sample value."""

            name: str
            secret: bytes = field(repr=False)
            port: int = 443
            label: Optional[str] = field(default=None, repr=False)

            def __post_init__(self) -> None:
                if self.port < 0:
                    raise ValueError(f"invalid port {self.port}")
                object.__setattr__(self, "name", self.name.lower())

        classes.append(decorate(Sample))
    return classes[0], classes[1]


REAL, MINE = make_pair()


def test_init_repr_and_post_init() -> None:
    real, mine = REAL("Host", b"k", 8443), MINE("Host", b"k", 8443)
    assert repr(mine) == repr(real)
    assert mine.name == "host"
    assert MINE("a", b"k").port == 443
    assert MINE(name="a", secret=b"k", label="x").label == "x"
    with pytest.raises(ValueError, match="invalid port -1"):
        MINE("a", b"k", -1)
    with pytest.raises(TypeError):
        MINE("a")


def test_signature_and_attributes() -> None:
    assert str(inspect.signature(MINE)) == str(inspect.signature(REAL))
    assert getattr(MINE, "__match_args__", None) == getattr(REAL, "__match_args__", None)
    assert MINE.port == REAL.port == 443
    assert MINE.label is None
    assert "secret" not in MINE.__dict__
    assert MINE.__doc__ == "A sample value."
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
        method = getattr(MINE, name)
        assert method.__module__ == MINE.__module__
        # As dataclasses names them from 3.10 on; 3.9 leaves __create_fn__ in it.
        assert method.__qualname__ == f"{MINE.__qualname__}.{name}"


def test_equality_and_hash() -> None:
    first, second = MINE("a", b"k"), MINE("a", b"k")
    assert first == second
    assert hash(first) == hash(second)
    assert hash(first) == hash(REAL("a", b"k"))
    assert first != MINE("a", b"other")
    assert first != REAL("a", b"k")
    assert first.__eq__(("a", b"k", 443, None)) is NotImplemented


def test_frozen_errors() -> None:
    value = MINE("a", b"k")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'port'"):
        value.port = 1
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'other'"):
        value.other = 1
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
        del value.name


def test_dataclasses_functions() -> None:
    value = MINE("a", b"k", 8443, "x")
    assert dataclasses.is_dataclass(MINE)
    assert [item.name for item in dataclasses.fields(value)] == [
        item.name for item in dataclasses.fields(REAL)
    ]
    assert [item.repr for item in dataclasses.fields(MINE)] == [True, False, True, False]
    assert dataclasses.asdict(value) == {"name": "a", "secret": b"k", "port": 8443, "label": "x"}
    changed: Any = dataclasses.replace(value, port=1)
    assert changed.port == 1
    assert changed.label == "x"
    assert type(changed) is MINE
    with pytest.raises(ValueError, match="invalid port -2"):
        dataclasses.replace(value, port=-2)
    assert MINE.__dataclass_params__.frozen is True


def test_pickle_and_copy() -> None:
    value = MINE("a", b"k")
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(TLSPOLICY)) == TLSPOLICY


@pytest.mark.skipif(sys.version_info < (3, 13), reason="copy.replace is new in Python 3.13")
def test_copy_replace() -> None:
    value = MINE("a", b"k")
    assert copy.replace(value, port=1) == MINE("a", b"k", 1)  # type: ignore[attr-defined]


def test_only_frozen_supported() -> None:
    with pytest.raises(TypeError, match="frozen=True only"):
        _frozen.dataclass(frozen=False)


TLSPOLICY = tlskit.TLSPolicy(cafile="ca.pem", system_ca=False)


def test_public_values_keep_dataclass_behaviour() -> None:
    for value in (TLSPOLICY, tlskit.Timeout(total=3.0), tlskit.Retry()):
        assert dataclasses.is_dataclass(value)
        assert dataclasses.replace(value) == value
        assert hash(dataclasses.replace(value)) == hash(value)


def test_import_skips_dataclasses() -> None:
    code = (
        "import sys, tlskit\n"
        "tlskit.TLSPolicy(); tlskit.Timeout(); tlskit.Retry()\n"
        "import tlskit._client\n"
        "print('dataclasses' in sys.modules, 'inspect' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]
