"""Trust anchors: load the CA sources a policy names into an SSLContext.

Each source is checked before OpenSSL sees it, so a missing, unreadable or
empty source raises `PolicyError` naming the path and the reason when the
context is built, never at the first request.
"""

from __future__ import annotations

import logging
import os
import ssl

from ._errors import PolicyError
from ._policy import TLSPolicy

log = logging.getLogger(__name__)


def load_trust(context: ssl.SSLContext, policy: TLSPolicy) -> None:
    """Load the system store (when asked) and every CA source of ``policy`` into ``context``.

    Raises:
        PolicyError: a source is missing, unreadable or holds no certificate, or
            the policy trusts nothing at all.
    """
    if policy.system_ca:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    elif policy.cafile is None and policy.capath is None and policy.cadata is None:
        raise PolicyError(
            "invalid TLSPolicy: system_ca is False and no cafile, capath or cadata is given, so no "
            "certificate could ever be trusted. Set one of them, or set system_ca=True.",
            field="system_ca",
        )

    if policy.cafile is not None:
        _load_cafile(context, os.fspath(policy.cafile))
    if policy.capath is not None:
        _load_capath(context, os.fspath(policy.capath))
    if policy.cadata is not None:
        _load_cadata(context, policy.cadata)


def _load_cafile(context: ssl.SSLContext, path: str) -> None:
    reason = _unusable_file_reason(path)
    if reason:
        raise PolicyError(f"invalid TLSPolicy.cafile {path!r}: {reason}.", field="cafile")
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        raise PolicyError(
            f"invalid TLSPolicy.cafile {path!r}: it holds no PEM certificate ({exc}). "
            "Pass a file with one or more '-----BEGIN CERTIFICATE-----' blocks.",
            field="cafile",
        ) from exc
    log.debug("loaded CA file %s", path)


def _load_capath(context: ssl.SSLContext, path: str) -> None:
    if not os.path.exists(path):
        raise PolicyError(f"invalid TLSPolicy.capath {path!r}: no such directory.", field="capath")
    if not os.path.isdir(path):
        raise PolicyError(
            f"invalid TLSPolicy.capath {path!r}: not a directory. Use cafile for a single PEM file.",
            field="capath",
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise PolicyError(f"invalid TLSPolicy.capath {path!r}: permission denied.", field="capath")
    context.load_verify_locations(capath=path)
    log.debug("added CA directory %s", path)


def _load_cadata(context: ssl.SSLContext, cadata: str | bytes) -> None:
    try:
        context.load_verify_locations(cadata=cadata)
    except ssl.SSLError as exc:
        kind = "PEM text" if isinstance(cadata, str) else "DER bytes"
        raise PolicyError(
            f"invalid TLSPolicy.cadata: the {kind} ({len(cadata)} characters) hold no certificate ({exc}). "
            "Pass PEM text as str or DER certificates as bytes.",
            field="cadata",
        ) from exc


def _unusable_file_reason(path: str) -> str:
    """Return why ``path`` cannot be read as a file, or "" when it can."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "is a directory; use capath for a directory of hashed certificates"
    if not os.access(path, os.R_OK):
        return "permission denied"
    if os.path.getsize(path) == 0:
        return "the file is empty"
    return ""
