"""tlskit: hardened TLS contexts, a raw HTTPS/1.1 client and peer certificate checks.

Standard library only. The public API is what ``__all__`` lists; every module
whose name starts with an underscore is private and may change.

Public names are imported on first use (PEP 562): ``import tlskit`` alone
loads no submodule, so a program pays at start-up only for what it uses,
such as ``tlskit.get``, which needs ``ssl`` and most of the client. Type checkers see the imports under ``TYPE_CHECKING`` below.
"""

from __future__ import annotations

from ._version import __version__

# Defined here rather than imported from typing, which costs 2 ms at start-up;
# mypy treats any constant of this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

    from ._certs import PeerCertificate
    from ._client import Client, get
    from ._connection import TLSInfo
    from ._context import create_context
    from ._diagnosis import Diagnosis, VerificationCause
    from ._errors import (
        CertificateExpiredError,
        CertificateNotYetValidError,
        CertificateParseError,
        CertificateRevokedError,
        ClientCertificateRequiredError,
        ConnectError,
        DecodingError,
        HandshakeError,
        HostnameMismatchError,
        HTTPStatusError,
        IncompleteBodyError,
        InsecureRedirectError,
        InvalidChainError,
        InvalidHeaderError,
        InvalidURLError,
        LimitExceededError,
        NoSharedCipherError,
        PinMismatchError,
        PolicyError,
        ProtocolError,
        ProtocolVersionError,
        ProxyError,
        RedirectError,
        RemoteDisconnectedError,
        RevocationCheckError,
        TimeoutExceededError,
        TLSKitError,
        TooManyRedirectsError,
        UntrustedCertificateError,
        VerificationError,
        WeakCertificateError,
    )
    from ._extensions import CertificateExtension
    from ._headers import Headers
    from ._http11_events import Limits
    from ._peer_cache import PeerCache
    from ._peer_record import CertificateSummary, PeerRecord
    from ._peer_store import PeerCacheError
    from ._policy import TLSPolicy
    from ._response import Response
    from ._retry import Retry
    from ._session_cache import SessionCache
    from ._streaming import StreamingResponse
    from ._timeouts import Timeout
    from ._versions import CipherProfile

# The private module that defines each public name.
_MODULE_OF = {
    "PeerCertificate": "_certs",
    "Client": "_client",
    "get": "_client",
    "TLSInfo": "_connection",
    "create_context": "_context",
    "Diagnosis": "_diagnosis",
    "VerificationCause": "_diagnosis",
    "CertificateExpiredError": "_errors",
    "CertificateNotYetValidError": "_errors",
    "CertificateParseError": "_errors",
    "CertificateRevokedError": "_errors",
    "ClientCertificateRequiredError": "_errors",
    "ConnectError": "_errors",
    "DecodingError": "_errors",
    "HandshakeError": "_errors",
    "HostnameMismatchError": "_errors",
    "HTTPStatusError": "_errors",
    "IncompleteBodyError": "_errors",
    "InsecureRedirectError": "_errors",
    "InvalidChainError": "_errors",
    "InvalidHeaderError": "_errors",
    "InvalidURLError": "_errors",
    "LimitExceededError": "_errors",
    "NoSharedCipherError": "_errors",
    "PinMismatchError": "_errors",
    "PolicyError": "_errors",
    "ProtocolError": "_errors",
    "ProtocolVersionError": "_errors",
    "ProxyError": "_errors",
    "RedirectError": "_errors",
    "RemoteDisconnectedError": "_errors",
    "RevocationCheckError": "_errors",
    "TimeoutExceededError": "_errors",
    "TLSKitError": "_errors",
    "TooManyRedirectsError": "_errors",
    "UntrustedCertificateError": "_errors",
    "VerificationError": "_errors",
    "WeakCertificateError": "_errors",
    "CertificateExtension": "_extensions",
    "Headers": "_headers",
    "Limits": "_http11_events",
    "PeerCache": "_peer_cache",
    "CertificateSummary": "_peer_record",
    "PeerRecord": "_peer_record",
    "PeerCacheError": "_peer_store",
    "TLSPolicy": "_policy",
    "Response": "_response",
    "Retry": "_retry",
    "SessionCache": "_session_cache",
    "StreamingResponse": "_streaming",
    "Timeout": "_timeouts",
    "CipherProfile": "_versions",
}

__all__ = [
    "CertificateExpiredError",
    "CertificateExtension",
    "CertificateNotYetValidError",
    "CertificateParseError",
    "CertificateRevokedError",
    "CertificateSummary",
    "CipherProfile",
    "Client",
    "ClientCertificateRequiredError",
    "ConnectError",
    "DecodingError",
    "Diagnosis",
    "HTTPStatusError",
    "HandshakeError",
    "Headers",
    "HostnameMismatchError",
    "IncompleteBodyError",
    "InsecureRedirectError",
    "InvalidChainError",
    "InvalidHeaderError",
    "InvalidURLError",
    "LimitExceededError",
    "Limits",
    "NoSharedCipherError",
    "PeerCache",
    "PeerCacheError",
    "PeerCertificate",
    "PeerRecord",
    "PinMismatchError",
    "PolicyError",
    "ProtocolError",
    "ProtocolVersionError",
    "ProxyError",
    "RedirectError",
    "RemoteDisconnectedError",
    "Response",
    "Retry",
    "RevocationCheckError",
    "SessionCache",
    "StreamingResponse",
    "TLSInfo",
    "TLSKitError",
    "TLSPolicy",
    "Timeout",
    "TimeoutExceededError",
    "TooManyRedirectsError",
    "UntrustedCertificateError",
    "VerificationCause",
    "VerificationError",
    "WeakCertificateError",
    "__version__",
    "create_context",
    "get",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tlskit' has no attribute {name!r}")
    # The same as "from .module import name", without importing importlib.
    value = getattr(__import__(module, globals(), None, [name], 1), name)
    # Later lookups find the name in the module's namespace and skip this function.
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
