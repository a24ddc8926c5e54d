"""Smoke tests of the benchmark suite: the stdlib server, one tiny round, the outputs.

These run in a few seconds and check structure, not speed: the suite itself
(``python -m benchmarks``) does the measuring.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Iterator

import pytest

# The suite lives beside the package, in the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import chart, clients, floor, report, targets  # noqa: E402
from benchmarks.certs import Certificates, make_certificates  # noqa: E402
from benchmarks.content import ENDPOINTS, LARGE, SMALL  # noqa: E402
from benchmarks.method import FRESH, KEEP_ALIVE, Contestant, Scenario, Settings, Unsupported, run_scenario  # noqa: E402
from benchmarks.servers import StdlibServer  # noqa: E402

TINY = Settings(rounds=1, batch_seconds=0.01, warmup_operations=1, seed=0)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module", params=["threads", "selector"])
def server(request: pytest.FixtureRequest, certificates: Certificates) -> Iterator[StdlibServer]:
    with StdlibServer(certificates, request.param) as started:
        yield started


def small_target(server: StdlibServer, certificates: Certificates) -> clients.Target:
    return clients.Target(
        server.url(SMALL.path), server.ports["ecdsa"], SMALL.path, certificates.ca_file, SMALL.length
    )


def unsupported() -> clients.Runner:
    raise Unsupported("not supported yet")


def test_round_of_two_clients_and_one_na(server: StdlibServer, certificates: Certificates) -> None:
    target = small_target(server, certificates)
    scenario = Scenario(
        "smoke",
        "keep-alive smoke",
        "per GET",
        "floor",
        [
            Contestant("floor", "floor", "floor", lambda: clients.floor_keep_alive(target), KEEP_ALIVE),
            Contestant("tlskit", "tlskit", "tlskit", lambda: clients.tlskit_keep_alive(target), KEEP_ALIVE),
            Contestant("future", "future", "tlskit", unsupported, KEEP_ALIVE),
        ],
    )
    result = run_scenario(scenario, server, TINY)

    assert [contestant.key for contestant in result.results] == ["floor", "tlskit", "future"]
    floor_result, tlskit_result, future_result = result.results
    for measured in (floor_result, tlskit_result):
        assert measured.status == "ok"
        assert len(measured.seconds) == TINY.rounds
        assert measured.count >= 1
        median = measured.median()
        assert median is not None
        assert median > 0
    assert floor_result.paired_ratio(floor_result) == 1.0
    assert tlskit_result.paired_ratio(floor_result) is not None
    assert future_result.status == "n/a (not supported yet)"
    assert future_result.seconds == []


def test_outputs_from_round(server: StdlibServer, certificates: Certificates) -> None:
    target = small_target(server, certificates)
    scenario = Scenario(
        "keepalive-13b",
        "keep-alive smoke",
        "per GET",
        "floor",
        [Contestant("floor", "floor", "floor", lambda: clients.floor_keep_alive(target), KEEP_ALIVE)],
    )
    result = run_scenario(scenario, server, TINY)
    target_results = targets.evaluate_all({"keepalive-13b": result})
    run = report.build_json([result], target_results, TINY, {"server": server.description})

    assert run["scenarios"][0]["contestants"][0]["ratio_to_reference"] == 1.0
    assert len(run["targets"]) == len(targets.TARGETS)
    keep_alive = next(target for target in run["targets"] if target["name"] == "keep-alive GET, 13 B")
    assert keep_alive["status"].startswith("n/a")
    svg = ElementTree.fromstring(chart.render(run))
    assert svg.tag.endswith("svg")


def test_counters_reject_false_fresh_claim(server: StdlibServer, certificates: Certificates) -> None:
    target = small_target(server, certificates)
    claims_fresh = Contestant("liar", "liar", "floor", lambda: clients.floor_keep_alive(target), FRESH)
    scenario = Scenario("smoke", "smoke", "per GET", "liar", [claims_fresh])

    result = run_scenario(scenario, server, TINY)

    assert result.results[0].status.startswith("failed: CheckError: server counted 0 connections")
    assert result.results[0].seconds == []


def test_fresh_floor_counts_connections(server: StdlibServer, certificates: Certificates) -> None:
    target = small_target(server, certificates)
    before = server.counters()

    clients.floor_fresh(target).run(3)

    delta = server.counters() - before
    assert delta.connections == 3
    assert delta.requests == 3
    assert delta.resumed == 0


@pytest.mark.parametrize("path", [path for path in ENDPOINTS if path != LARGE.path])
def test_floor_reads_each_endpoint(server: StdlibServer, certificates: Certificates, path: str) -> None:
    context = floor.make_context(certificates.ca_file)
    port = server.ports["ecdsa"]
    sock = floor.connect(context, port)
    try:
        for _ in range(2):
            sock.sendall(floor.build_request(port, path))
            assert floor.read_response(sock) == (200, ENDPOINTS[path].length)
    finally:
        sock.close()
