"""tlskit: hardened TLS contexts, a raw HTTPS/1.1 client and peer certificate checks.

Standard library only. The public API is what ``__all__`` lists; every module
whose name starts with an underscore is private and may change.
"""

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
from ._http11 import Limits
from ._peer_cache import PeerCache
from ._peer_record import CertificateSummary, PeerRecord
from ._peer_store import PeerCacheError
from ._policy import TLSPolicy
from ._response import Response
from ._retry import Retry
from ._session_cache import SessionCache
from ._streaming import StreamingResponse
from ._timeouts import Timeout
from ._version import __version__
from ._versions import CipherProfile

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
