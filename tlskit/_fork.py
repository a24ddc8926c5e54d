"""Per-process state that a child must reset after `os.fork`.

Caches of TLS sessions and peer records hold secrets and sqlite3 handles of
the parent's connections, and locks that another thread may have held at the
moment of the fork. Each such object registers here once, and the child calls
its ``_reset_after_fork`` before `os.fork` returns there.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class Resettable(Protocol):
    """An object with per-process state to drop in a forked child."""

    def _reset_after_fork(self) -> None: ...


# Objects alive in this process. A collected object needs no reset.
_registered: weakref.WeakSet[Resettable] = weakref.WeakSet()


def reset_in_forked_child(resettable: Resettable) -> None:
    """Call ``resettable._reset_after_fork()`` in every child forked while it is alive.

    The method runs in the child, which has only the forking thread, so it
    must replace locks rather than acquire them.
    """
    _registered.add(resettable)


def _reset_registered() -> None:
    for resettable in list(_registered):
        resettable._reset_after_fork()


if hasattr(os, "register_at_fork"):  # Windows has no fork.
    os.register_at_fork(after_in_child=_reset_registered)
