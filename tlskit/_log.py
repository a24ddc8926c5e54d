"""Per-module loggers that import `logging` only once a record could be emitted.

Importing `logging` costs about 3 ms of start-up (it pulls in `traceback`,
`string` and `threading`; measured with ``python -X importtime`` on CPython
3.11), which a program that never logs should not pay. `get_logger` returns a
`LazyLogger` with the module's name:

- DEBUG and INFO records are dropped at no cost while no code in the process
  has imported `logging`, because nothing can have set a level or added a
  handler then, and Python's defaults drop such records anyway.
- WARNING and above always import `logging` and go to ``logging.getLogger(name)``,
  so they reach Python's last-resort handler on stderr when the application
  configured no logging, as before.

Records keep the caller's file, line and function name (``stacklevel``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import logging


class LazyLogger:
    """A stand-in for ``logging.getLogger(name)`` that defers importing `logging`."""

    __slots__ = ("name", "_logger")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: Optional[logging.Logger] = None

    @property
    def logger(self) -> logging.Logger:
        """The `logging.Logger` of this name, importing `logging` on first use."""
        logger = self._logger
        if logger is None:
            import logging

            logger = self._logger = logging.getLogger(self.name)
        return logger

    def is_debug_enabled(self) -> bool:
        """Return whether DEBUG records would be emitted, without importing `logging`.

        Callers check it before a debug call whose arguments cost something to compute.
        """
        if self._logger is None and "logging" not in sys.modules:
            return False
        return self.logger.isEnabledFor(10)  # logging.DEBUG

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self._logger is not None or "logging" in sys.modules:
            self.logger.debug(message, *args, stacklevel=kwargs.pop("stacklevel", 1) + 1, **kwargs)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        if self._logger is not None or "logging" in sys.modules:
            self.logger.info(message, *args, stacklevel=kwargs.pop("stacklevel", 1) + 1, **kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.warning(message, *args, stacklevel=kwargs.pop("stacklevel", 1) + 1, **kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.error(message, *args, stacklevel=kwargs.pop("stacklevel", 1) + 1, **kwargs)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.logger.exception(message, *args, stacklevel=kwargs.pop("stacklevel", 1) + 1, **kwargs)


def get_logger(name: str) -> LazyLogger:
    """Return the logger of module ``name``; see the module docstring."""
    return LazyLogger(name)
