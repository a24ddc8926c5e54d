"""Key logging: TLS session secrets written to a file, on an explicit opt-in only.

A key log (NSS key log format) lets Wireshark decrypt captured traffic, so it
is switched on by one of two explicit settings: ``TLSPolicy.keylog_file``,
or ``keylog_from_env=True``, which reads ``SSLKEYLOGFILE``. ``trust_env``
alone never turns it on, because an ``SSLKEYLOGFILE`` inherited from a shell
profile or a parent process would otherwise leak the secrets of every
connection. `ssl.create_default_context` honours that variable; tlskit builds
its contexts without it.

The file is created with mode 0600 before OpenSSL opens it, because OpenSSL
would create it with mode 0666 minus the umask. An existing regular file that
other users can read or write is rejected.
"""

from __future__ import annotations

import os
import stat
from typing import Optional

from ._errors import PolicyError
from ._log import get_logger
from ._policy import TLSPolicy

log = get_logger(__name__)

KEYLOG_ENV = "SSLKEYLOGFILE"


def keylog_path(policy: TLSPolicy) -> Optional[str]:
    """Return the key log file that ``policy`` requests, or None for no key log."""
    if policy.keylog_file is not None:
        return os.fspath(policy.keylog_file)
    if not policy.keylog_from_env:
        return None
    value = os.environ.get(KEYLOG_ENV)
    if not value:
        log.debug("keylog_from_env is set but %s is not; writing no key log", KEYLOG_ENV)
        return None
    log.debug("using %s=%s for the key log", KEYLOG_ENV, value)
    return value


def prepare_keylog_file(path: str, policy: TLSPolicy) -> None:
    """Create ``path`` with mode 0600 if it does not exist, and check who can read it.

    Raises:
        PolicyError: the file cannot be created or opened, or other users can
            read or write it.
    """
    field = "keylog_file" if policy.keylog_file is not None else "keylog_from_env"
    label = f"TLSPolicy.keylog_file {path!r}" if field == "keylog_file" else f"{KEYLOG_ENV}={path!r}"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise PolicyError(
            f"invalid {label}: cannot open it for writing ({exc.strerror or exc}). "
            "Check that the directory exists and is writable.",
            field=field,
        ) from exc
    try:
        mode = os.fstat(descriptor).st_mode
    finally:
        os.close(descriptor)
    if stat.S_ISREG(mode) and mode & 0o077:
        raise PolicyError(
            f"invalid {label}: other users can access it (mode {stat.S_IMODE(mode):04o}), and it would "
            f"hold TLS session secrets. Run 'chmod 600 {path}', or pick a path that does not exist yet.",
            field=field,
        )
