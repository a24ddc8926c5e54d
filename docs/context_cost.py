"""Measure what building an SSLContext from a TLSPolicy costs, against reusing one.

Run from the repository root: ``python docs/context_cost.py``. It needs only
the standard library and the system CA bundle that OpenSSL was built with,
because the small CA file and the 140-root bundle are cut from that bundle. Each case
is timed as the median of several rounds, and docs/policy.md records the
numbers of one run.
"""

from __future__ import annotations

import functools
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
from typing import Callable, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tlskit import TLSPolicy  # noqa: E402
from tlskit._context import build_context, context_for  # noqa: E402
from tlskit._policy import make_policy  # noqa: E402

ROUNDS = 7
BUNDLE_ROOTS = 140
PEM_END = "-----END CERTIFICATE-----\n"


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    """Return the median over ROUNDS of the mean time of ``repeat`` calls of ``action``."""
    rounds: List[float] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        rounds.append((time.perf_counter() - start) / repeat)
    return statistics.median(rounds)


def system_bundle_certificates() -> List[str]:
    paths = ssl.get_default_verify_paths()
    bundle = paths.openssl_cafile
    if not os.path.isfile(bundle):
        sys.exit(f"no system CA bundle at {bundle}; this script cuts its CA files from it")
    with open(bundle) as stream:
        text = stream.read()
    blocks = [block + PEM_END for block in text.split(PEM_END) if "-----BEGIN CERTIFICATE-----" in block]
    return [block[block.index("-----BEGIN CERTIFICATE-----") :] for block in blocks]


def write_bundle(directory: str, name: str, certificates: List[str]) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as stream:
        stream.write("".join(certificates))
    return path


def main() -> None:
    certificates = system_bundle_certificates()
    if len(certificates) < BUNDLE_ROOTS:
        sys.exit(f"the system bundle has {len(certificates)} certificates, fewer than {BUNDLE_ROOTS}")

    with tempfile.TemporaryDirectory() as directory:
        small = write_bundle(directory, "one-ca.pem", certificates[:1])
        bundle = write_bundle(directory, "140-roots.pem", certificates[:BUNDLE_ROOTS])
        cases = [
            ("build: small CA file (1 root)", TLSPolicy(cafile=small, system_ca=False), 200),
            (f"build: {BUNDLE_ROOTS}-root bundle", TLSPolicy(cafile=bundle, system_ca=False), 50),
            ("build: system store (trust_env=False)", TLSPolicy(trust_env=False), 50),
        ]
        print(f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, {platform.machine()}")
        print(f"system bundle: {ssl.get_default_verify_paths().openssl_cafile} ({len(certificates)} roots)")
        for label, policy, repeat in cases:
            seconds = median_seconds(functools.partial(build_context, policy), repeat)
            print(f"{label:<40} {seconds * 1e3:8.3f} ms")

        shared = TLSPolicy(cafile=bundle, system_ca=False)
        context_for(shared)
        reuse = median_seconds(lambda: context_for(shared), 100_000)
        print(f"{'reuse: context_for, same policy':<40} {reuse * 1e6:8.3f} us")
        per_request = median_seconds(lambda: context_for(make_policy(shared, {"security_level": 2})), 20_000)
        print(f"{'per request: policy + context_for':<40} {per_request * 1e6:8.3f} us")


if __name__ == "__main__":
    main()
