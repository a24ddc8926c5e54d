"""Compare the stdlib server's two modes with the floor client: ``python -m benchmarks.server_modes``.

Both servers run at once, and each scenario's contestants are the same floor
client aimed at one server or the other, in interleaved rounds, so the
ratio of selector mode to threads mode is paired like any other. The
server's counters are the sum of both servers' counts, which still checks
each batch, since a batch's traffic goes to one server only.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Callable, List

from . import clients, report
from .certs import make_certificates
from .cli import FULL
from .content import MEDIUM, SMALL, Endpoint
from .method import FRESH, KEEP_ALIVE, Contestant, Expectation, Runner, Scenario, run_scenario
from .servers import BenchmarkServer, Counters, StdlibServer


class CombinedServer(BenchmarkServer):
    """Counters summed over several servers; it starts and stops nothing itself."""

    name = "stdlib servers"

    def __init__(self, servers: List[StdlibServer]) -> None:
        super().__init__()
        self.servers = servers

    def counters(self) -> Counters:
        totals = Counters(0, 0, 0)
        for server in self.servers:
            counts = server.counters()
            totals = Counters(*(total + count for total, count in zip(totals, counts)))
        return totals


def target(server: StdlibServer, endpoint: Endpoint, ca_file: str) -> clients.Target:
    return clients.Target(
        server.url(endpoint.path), server.ports["ecdsa"], endpoint.path, ca_file, endpoint.length
    )


def mode_scenario(
    key: str,
    title: str,
    servers: List[StdlibServer],
    start: Callable[[clients.Target], Runner],
    endpoint: Endpoint,
    expect: Expectation,
    ca_file: str,
) -> Scenario:

    def starter(server: StdlibServer) -> Callable[[], Runner]:
        return lambda: start(target(server, endpoint, ca_file))

    contestants = [
        Contestant(server.mode, f"floor, {server.mode} server", "floor", starter(server), expect)
        for server in servers
    ]
    return Scenario(key, title, "per GET", "threads", contestants)


def main() -> int:
    threaded_expectation = Expectation(connections=(0, 0), requests=(1, 0))
    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as directory:
        certificates = make_certificates(Path(directory))
        servers = [StdlibServer(certificates, "threads"), StdlibServer(certificates, "selector")]
        try:
            combined = CombinedServer(servers)
            ca_file = certificates.ca_file
            scenarios = [
                mode_scenario("keepalive-13b", "keep-alive GET, 13 B", servers, clients.floor_keep_alive, SMALL, KEEP_ALIVE, ca_file),
                mode_scenario("keepalive-64k", "keep-alive GET, 64 KiB", servers, clients.floor_keep_alive, MEDIUM, KEEP_ALIVE, ca_file),
                mode_scenario("fresh-ecdsa", "fresh connection per GET, ECDSA", servers, clients.floor_fresh, SMALL, FRESH, ca_file),
                mode_scenario("threads", "8 threads, keep-alive GETs, 13 B", servers, clients.floor_threads, SMALL, threaded_expectation, ca_file),
            ]  # fmt: skip
            print(f"stdlib server modes, {FULL.rounds} rounds of about {FULL.batch_seconds:g} s per batch")
            for scenario in scenarios:
                report.print_scenario(run_scenario(scenario, combined, FULL), sys.stdout)
        finally:
            for server in servers:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
