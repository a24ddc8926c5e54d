"""The scenario table: what each scenario measures, with which contestants, against which reference."""

from __future__ import annotations

import ssl
from typing import Callable, Dict, List, NamedTuple, Optional

from . import clients, curl, processes
from .content import LARGE, MEDIUM, MEDIUM_CHUNKED, SMALL, Endpoint
from .method import Scenario
from .servers import BenchmarkServer


class Context(NamedTuple):
    """The run's server, CA files and temporary directory, as scenarios use them."""

    server: BenchmarkServer
    ca_file: str
    bundle_file: Optional[str]
    download_directory: str


def target(context: Context, endpoint: Endpoint, key_type: str = "ecdsa") -> clients.Target:
    return clients.Target(
        url=context.server.url(endpoint.path, key_type),
        port=context.server.ports[key_type],
        path=endpoint.path,
        ca_file=context.ca_file,
        length=endpoint.length,
    )


def import_time(context: Context) -> Scenario:
    return Scenario(
        "import", "bare import, ms over python -c pass", "per process", "python",
        processes.import_contestants(), kind="import",
    )  # fmt: skip


def process_get(context: Context) -> Scenario:
    return Scenario(
        "process-get", "one GET per fresh process, 13 B", "per process", "floor",
        processes.process_get_contestants(target(context, SMALL)),
    )  # fmt: skip


def fresh(key_type: str, title: str) -> Callable[[Context], Scenario]:
    def build(context: Context) -> Scenario:
        small = target(context, SMALL, key_type)
        contestants = clients.fresh_contestants(small, context.bundle_file) + [curl.curl_fresh(small)]
        return Scenario(
            f"fresh-{key_type}", f"fresh connection per GET, {title}", "per GET", "floor", contestants
        )

    return build


def resumption(version: ssl.TLSVersion, name: str) -> Callable[[Context], Scenario]:
    def build(context: Context) -> Scenario:
        small = target(context, SMALL)
        contestants = clients.resumption_contestants(small, version) + [curl.curl_resumed(small, name)]
        return Scenario(
            f"resume-tls{name}",
            f"reconnect with TLS {name} session resumption",
            "per GET",
            "floor",
            contestants,
        )

    return build


def keep_alive(endpoint: Endpoint, title: str) -> Callable[[Context], Scenario]:
    def build(context: Context) -> Scenario:
        endpoint_target = target(context, endpoint)
        contestants = clients.keep_alive_contestants(endpoint_target) + [
            curl.curl_keep_alive(endpoint_target)
        ]
        key = "keepalive-" + endpoint.path.strip("/")
        return Scenario(key, f"keep-alive GET, {title}", "per GET", "floor", contestants)

    return build


def download(mode: str, title: str) -> Callable[[Context], Scenario]:
    def build(context: Context) -> Scenario:
        contestants = processes.download_contestants(
            mode, target(context, SMALL), target(context, LARGE), context.download_directory
        )
        return Scenario(
            f"download-{mode}", f"100 MiB download, {title}", "per download", "floor", contestants
        )

    return build


def threads(context: Context) -> Scenario:
    return Scenario(
        "threads", f"{clients.THREADS} threads, keep-alive GETs, 13 B", "per GET, all threads", "floor",
        clients.thread_contestants(target(context, SMALL)),
    )  # fmt: skip


SCENARIOS: Dict[str, Callable[[Context], Scenario]] = {
    "import": import_time,
    "process-get": process_get,
    "fresh-ecdsa": fresh("ecdsa", "ECDSA P-256"),
    "fresh-rsa": fresh("rsa", "RSA-2048"),
    "resume-tls1.2": resumption(ssl.TLSVersion.TLSv1_2, "1.2"),
    "resume-tls1.3": resumption(ssl.TLSVersion.TLSv1_3, "1.3"),
    "keepalive-13b": keep_alive(SMALL, "13 B"),
    "keepalive-64k": keep_alive(MEDIUM, "64 KiB, Content-Length"),
    "keepalive-64k-chunked": keep_alive(MEDIUM_CHUNKED, "64 KiB, chunked"),
    "download-file": download("file", "streamed to a file"),
    "download-memory": download("memory", "held in memory"),
    "threads": threads,
}


def build_scenarios(context: Context, keys: List[str]) -> List[Scenario]:
    return [SCENARIOS[key](context) for key in keys]
