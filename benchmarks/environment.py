"""The run's environment: variables cleared before any client loads, and facts about the machine.

Clients read CA and proxy settings from the environment: requests lets
REQUESTS_CA_BUNDLE override Session.verify, curl reads CURL_CA_BUNDLE,
OpenSSL's default paths follow SSL_CERT_FILE and SSL_CERT_DIR, and every
client here honours the proxy variables, which could send loopback traffic
elsewhere. They are removed from ``os.environ`` for the whole run, child
processes included, and the report records what they were.

Child processes also get a bytecode cache of their own. With
PYTHONDONTWRITEBYTECODE set, a package whose .pyc files were never written
(an editable install such as tlskit's) is compiled from source in every
process, while pip-installed peers load their .pyc files, so import times
would compare compiling with loading. PYTHONPYCACHEPREFIX points every
child at a cache in the run's temporary directory, which the warm-up fills.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import ssl
import sys
from typing import Dict, Optional

from .curl import curl_version

CLEARED_VARIABLES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
)


def clear_variables() -> Dict[str, Optional[str]]:
    """Remove the variables that change what clients trust or where they connect.

    Returns:
        Each cleared variable's previous value, or None where it was unset.
    """
    return {name: os.environ.pop(name, None) for name in CLEARED_VARIABLES}


def use_bytecode_cache(directory: str) -> Dict[str, Optional[str]]:
    """Make child processes write and read .pyc files under ``directory``.

    Returns:
        The previous values of the two variables it sets or removes.
    """
    previous = {name: os.environ.get(name) for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = directory
    return previous


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe_machine() -> Dict[str, object]:
    """Return the machine, interpreter and client versions for the report."""
    import tlskit

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "openssl": ssl.OPENSSL_VERSION,
        "versions": {
            "tlskit": tlskit.__version__,
            "requests": package_version("requests"),
            "urllib3": package_version("urllib3"),
            "httpx": package_version("httpx"),
            "http.client": f"Python {sys.version.split()[0]}",
            "curl": curl_version(),
        },
    }
