"""The measurement method: interleaved rounds, time-sized batches, checks, medians, paired ratios.

A scenario pits contestants (clients set up one way) against each other:

1. Each contestant is started (its client built, connections opened) and
   warmed up, which also checks its first results and opens the connections
   a keep-alive client keeps.
2. Calibration sizes each contestant's batch so that it takes about the
   batch time, because a fixed count would give fast clients noisy batches
   and slow clients long ones.
3. Each round runs one batch of every contestant, in a fresh random order,
   so drift in the machine's speed spreads over all contestants alike.
4. Around every batch the server's own counters are read and compared with
   what the contestant promises (one connection per GET, none, resumed...).
   A contestant that breaks its promise or returns a wrong status or body
   length is dropped from the scenario with the reason.
5. The result per contestant is the median time per operation over rounds,
   and the median over rounds of its time divided by the reference's time
   in the same round (a paired ratio, which cancels drift between rounds).
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from .servers import BenchmarkServer, Counters

Metrics = Dict[str, float]


class CheckError(Exception):
    """A contestant returned a wrong result or broke its connection promise."""


class Unsupported(Exception):
    """The client lacks what the scenario needs; the report shows n/a with the reason."""


class Runner(Protocol):
    """A started contestant, ready to run batches."""

    def run(self, count: int) -> Optional[Metrics]:
        """Run ``count`` operations. Metrics may override the wall time with "seconds"."""

    def close(self) -> None:
        """Release the client and its connections."""


class Expectation(NamedTuple):
    """Server counts that a batch of ``count`` operations must produce, as (per operation, per batch) pairs.

    None skips that counter. The allowed range for a counter is
    ``per_operation * count + per_batch`` up to that plus ``slack``.
    """

    connections: Optional[Tuple[float, float]] = (0, 0)
    requests: Optional[Tuple[float, float]] = (1, 0)
    resumed: Optional[Tuple[float, float]] = None
    slack: int = 0


# A fresh connection means a full handshake: resuming a session would skip
# most of what the scenario measures.
FRESH = Expectation(connections=(1, 0), requests=(1, 0), resumed=(0, 0))
KEEP_ALIVE = Expectation(connections=(0, 0), requests=(1, 0))


class Contestant(NamedTuple):
    """One client, set up one way, in one scenario.

    Attributes:
        key: stable id used in the JSON and for references ("floor", "requests").
        label: name shown in the table.
        client: the client family, for colors and versions ("tlskit", "curl").
        start: builds and returns the runner; raises `Unsupported` when the
            client cannot take part.
        expect: what the server must count per batch.
        fixed_count: run exactly this many operations per batch instead of
            sizing batches by time (downloads run one per batch).
    """

    key: str
    label: str
    client: str
    start: Callable[[], Runner]
    expect: Expectation = KEEP_ALIVE
    fixed_count: Optional[int] = None


class Scenario(NamedTuple):
    """A set of contestants doing the same work, compared with one reference."""

    key: str
    title: str
    unit: str
    reference: str
    contestants: Sequence[Contestant]
    kind: str = "time"


class Settings(NamedTuple):
    """How long and how often to measure."""

    rounds: int
    batch_seconds: float
    warmup_operations: int = 3
    max_count: int = 200_000
    seed: Optional[int] = None


class ContestantResult:
    """One contestant's times, metrics and status in one scenario."""

    def __init__(self, contestant: Contestant) -> None:
        self.key = contestant.key
        self.label = contestant.label
        self.client = contestant.client
        self.count = 0
        self.seconds: List[Optional[float]] = []
        self.metrics: List[Metrics] = []
        self.status = "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def median(self) -> Optional[float]:
        values = [value for value in self.seconds if value is not None]
        return statistics.median(values) if values else None

    def paired_ratio(self, reference: Optional[ContestantResult]) -> Optional[float]:
        """Return the median over rounds of this time divided by the reference's time."""
        if reference is None or not reference.seconds:
            return None
        ratios = [
            mine / theirs
            for mine, theirs in zip(self.seconds, reference.seconds)
            if mine is not None and theirs
        ]
        return statistics.median(ratios) if ratios else None

    def paired_difference(self, reference: Optional[ContestantResult]) -> Optional[float]:
        """Return the median over rounds of this time minus the reference's time, in seconds."""
        if reference is None:
            return None
        differences = [
            mine - theirs
            for mine, theirs in zip(self.seconds, reference.seconds)
            if mine is not None and theirs is not None
        ]
        return statistics.median(differences) if differences else None

    def median_metric(self, name: str) -> Optional[float]:
        values = [metrics[name] for metrics in self.metrics if name in metrics]
        return statistics.median(values) if values else None


class ScenarioResult(NamedTuple):
    scenario: Scenario
    results: List[ContestantResult]

    def find(self, key: str) -> Optional[ContestantResult]:
        for result in self.results:
            if result.key == key and result.ok:
                return result
        return None


def check_counters(expect: Expectation, count: int, delta: Counters) -> None:
    """Raise `CheckError` when the server's counts for a batch break ``expect``."""
    for name in ("connections", "requests", "resumed"):
        rule = getattr(expect, name)
        if rule is None:
            continue
        per_operation, per_batch = rule
        low = math.floor(per_operation * count + per_batch)
        high = low + expect.slack
        actual = getattr(delta, name)
        if not low <= actual <= high:
            allowed = str(low) if low == high else f"{low} to {high}"
            raise CheckError(f"server counted {actual} {name} for {count} operations, expected {allowed}")


def measure_batch(
    runner: Runner, count: int, contestant: Contestant, server: BenchmarkServer
) -> Tuple[float, Metrics]:
    """Run one batch, check the server's counters, and return (seconds per operation, metrics)."""
    gc.collect()
    before = server.counters()
    started = time.perf_counter()
    metrics = runner.run(count) or {}
    elapsed = time.perf_counter() - started
    check_counters(contestant.expect, count, server.counters() - before)
    return metrics.get("seconds", elapsed) / count, metrics


def calibrate(runner: Runner, contestant: Contestant, server: BenchmarkServer, settings: Settings) -> int:
    """Return the number of operations that makes a batch last about ``settings.batch_seconds``.

    The count grows fourfold until a batch lasts a quarter of the batch time
    and at least twice as long as the batch before it. The time per
    operation is then the slope between the last two batches, so a fixed
    cost per batch (a curl process, starting threads) does not shrink the
    count. A batch longer than twice the batch time ends the search.
    """
    if contestant.fixed_count is not None:
        return contestant.fixed_count
    batches: List[Tuple[int, float]] = []
    count = 1
    while True:
        per_operation, _ = measure_batch(runner, count, contestant, server)
        elapsed = per_operation * count
        batches.append((count, elapsed))
        is_long = elapsed >= settings.batch_seconds / 4
        has_grown = len(batches) >= 2 and elapsed >= 2 * batches[-2][1]
        if (is_long and has_grown) or elapsed >= 2 * settings.batch_seconds or count >= settings.max_count:
            break
        count = min(count * 4, settings.max_count)

    average = per_operation
    seconds_per_operation = average
    if len(batches) >= 2:
        (small_count, small_elapsed), (large_count, large_elapsed) = batches[-2:]
        marginal = (large_elapsed - small_elapsed) / (large_count - small_count)
        # A noisy small batch can make the slope tiny, so it is bounded below.
        seconds_per_operation = max(marginal, average / 8)
    return max(1, min(settings.max_count, round(settings.batch_seconds / seconds_per_operation)))


def run_scenario(
    scenario: Scenario,
    server: BenchmarkServer,
    settings: Settings,
    log: Callable[[str], None] = lambda message: None,
) -> ScenarioResult:
    """Measure every contestant of ``scenario`` in interleaved, shuffled rounds."""
    results = {contestant.key: ContestantResult(contestant) for contestant in scenario.contestants}
    runners: Dict[str, Runner] = {}
    shuffler = random.Random(settings.seed)
    try:
        # 1-2. Start, warm up and calibrate.
        for contestant in scenario.contestants:
            result = results[contestant.key]
            try:
                runner = contestant.start()
            except Unsupported as exc:
                result.status = f"n/a ({exc})"
                continue
            except Exception as exc:  # A client's failure is reported, not fatal to the run.
                result.status = f"failed to start: {type(exc).__name__}: {exc}"
                continue
            runners[contestant.key] = runner
            try:
                # The warm-up opens keep-alive connections, so the server's
                # counters are checked from calibration on.
                if contestant.fixed_count is None:
                    runner.run(settings.warmup_operations)
                result.count = calibrate(runner, contestant, server, settings)
            except Exception as exc:
                result.status = f"failed: {type(exc).__name__}: {exc}"
                runners.pop(contestant.key).close()

        # 3-4. Rounds.
        active = [contestant for contestant in scenario.contestants if contestant.key in runners]
        for round_number in range(settings.rounds):
            shuffler.shuffle(active)
            for contestant in list(active):
                result = results[contestant.key]
                try:
                    seconds, metrics = measure_batch(
                        runners[contestant.key], result.count, contestant, server
                    )
                except Exception as exc:
                    result.status = f"failed in round {round_number + 1}: {type(exc).__name__}: {exc}"
                    active.remove(contestant)
                    runners.pop(contestant.key).close()
                    continue
                result.seconds.append(seconds)
                result.metrics.append(metrics)
            log(f"{scenario.key}: round {round_number + 1}/{settings.rounds}")
    finally:
        for runner in runners.values():
            runner.close()

    # A contestant that failed midway keeps no times, so nothing half-measured is reported.
    for result in results.values():
        if not result.ok:
            result.seconds = []
            result.metrics = []
    return ScenarioResult(scenario, [results[contestant.key] for contestant in scenario.contestants])
