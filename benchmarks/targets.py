"""tlskit's performance targets, each checked against a run's results.

Every target compares tlskit with a reference measured in the same run:
a ratio of median paired times, a difference of import times, or a memory
figure. A target is "met", "missed" (with the gap), or "n/a" when tlskit or
the reference has no result (a feature not built yet, a scenario not run).
"""

from __future__ import annotations

from typing import Callable, Dict, List, NamedTuple, Optional

from .method import ScenarioResult

Results = Dict[str, ScenarioResult]


class Target(NamedTuple):
    """One target: a value computed from results, and the bound it must stay within."""

    name: str
    scenario: str
    measure: Callable[[ScenarioResult], Optional[float]]
    limit: float
    at_most: bool
    unit: str


class TargetResult(NamedTuple):
    name: str
    status: str
    value: Optional[float]
    limit: float
    at_most: bool
    unit: str
    detail: str


def ratio(
    contestant: str, reference: str, invert: bool = False
) -> Callable[[ScenarioResult], Optional[float]]:
    """Return a measure: the median paired time ratio of ``contestant`` to ``reference``.

    With ``invert`` the ratio is reference over contestant, which for the
    same work is the contestant's throughput over the reference's.
    """

    def measure(result: ScenarioResult) -> Optional[float]:
        mine, theirs = result.find(contestant), result.find(reference)
        if mine is None or theirs is None:
            return None
        if invert:
            return theirs.paired_ratio(mine)
        return mine.paired_ratio(theirs)

    return measure


def import_difference(result: ScenarioResult) -> Optional[float]:
    """Return the median paired difference, in ms, between importing tlskit and importing ssl."""
    mine, theirs = result.find("tlskit"), result.find("ssl")
    if mine is None or theirs is None:
        return None
    difference = mine.paired_difference(theirs)
    return None if difference is None else difference * 1000


def streaming_memory(result: ScenarioResult) -> Optional[float]:
    mine = result.find("tlskit")
    return None if mine is None else mine.median_metric("peak_above_baseline_mib")


TARGETS: List[Target] = [
    Target("fresh connection GET, ECDSA", "fresh-ecdsa", ratio("tlskit", "floor"), 1.05, True, "x floor"),
    Target("fresh connection GET, RSA", "fresh-rsa", ratio("tlskit", "floor"), 1.05, True, "x floor"),
    Target("resumed reconnect, TLS 1.2", "resume-tls1.2", ratio("tlskit", "floor"), 0.60, True, "x full-handshake floor"),
    Target("resumed reconnect, TLS 1.3", "resume-tls1.3", ratio("tlskit", "floor"), 0.85, True, "x full-handshake floor"),
    Target("keep-alive GET, 13 B", "keepalive-13b", ratio("tlskit", "floor"), 1.5, True, "x floor"),
    Target("keep-alive 13 B, speed-up over requests", "keepalive-13b", ratio("tlskit", "requests", invert=True), 12, False, "x requests' speed"),
    Target("keep-alive 13 B, speed-up over curl", "keepalive-13b", ratio("tlskit", "curl", invert=True), 1.0, False, "x curl's speed"),
    Target("keep-alive GET, 64 KiB", "keepalive-64k", ratio("tlskit", "floor"), 1.3, True, "x floor"),
    Target("keep-alive GET, 64 KiB chunked", "keepalive-64k-chunked", ratio("tlskit", "floor"), 1.3, True, "x floor"),
    Target("100 MiB to a file, throughput", "download-file", ratio("tlskit", "floor", invert=True), 0.95, False, "x floor throughput"),
    Target("100 MiB in memory, throughput", "download-memory", ratio("tlskit", "floor", invert=True), 0.95, False, "x floor throughput"),
    Target("100 MiB to a file, peak memory", "download-file", streaming_memory, 8.0, True, "MiB above baseline"),
    Target("import tlskit over import ssl", "import", import_difference, 5.0, True, "ms"),
    Target("one GET per fresh process", "process-get", ratio("tlskit", "floor"), 1.08, True, "x floor process"),
    Target("8 threads, throughput vs http.client per thread", "threads", ratio("tlskit", "http.client", invert=True), 1.0, False, "x http.client's"),
]  # fmt: skip


def unavailable_reason(result: Optional[ScenarioResult]) -> str:
    """Say why a target has no value: the scenario did not run, or tlskit's status there."""
    if result is None:
        return "scenario not run"
    for contestant in result.results:
        if contestant.key == "tlskit" and not contestant.ok:
            return contestant.status
    return "no result for tlskit or its reference"


def evaluate(target: Target, results: Results) -> TargetResult:
    scenario = results.get(target.scenario)
    value = target.measure(scenario) if scenario is not None else None
    if value is None:
        reason = unavailable_reason(scenario)
        status = reason if reason.startswith("n/a") else f"n/a ({reason})"
        return TargetResult(target.name, status, None, target.limit, target.at_most, target.unit, "")
    met = value <= target.limit if target.at_most else value >= target.limit
    if met:
        detail = ""
    elif target.at_most:
        detail = f"{value - target.limit:.3g} {target.unit.split()[0]} over, {100 * (value / target.limit - 1):.0f}% above the limit"
    else:
        detail = f"{target.limit - value:.3g} {target.unit.split()[0]} short, {100 * (1 - value / target.limit):.0f}% below the goal"
    return TargetResult(
        target.name, "met" if met else "missed", value, target.limit, target.at_most, target.unit, detail
    )


def evaluate_all(results: Results) -> List[TargetResult]:
    return [evaluate(target, results) for target in TARGETS]
