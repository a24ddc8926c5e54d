"""``python -m benchmarks --profile SCENARIO``: where tlskit spends its time in one scenario.

In-process scenarios run tlskit's contestant for a few seconds under
cProfile (in every thread, for the threads scenario) and print the top
functions by own time and by cumulative time. Scenarios that run in child
processes profile the child instead: ``-X importtime`` for the import
scenario, and ``python -m cProfile`` for one GET per process and for the
downloads.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

from .certs import make_certificates
from .clients import ThreadedRunner
from .method import Runner, Unsupported
from .processes import GET_PROGRAMS, REPOSITORY
from .scenarios import Context, build_scenarios
from .servers import BenchmarkServer, start_server

PROFILE_SECONDS = 3.0
TOP_FUNCTIONS = 25
IMPORT_LINES = 20


def print_stats(profile: pstats.Stats, title: str) -> None:
    for sort_key in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(stream=stream)
        stats.add(profile)
        stats.sort_stats(sort_key).print_stats(TOP_FUNCTIONS)
        print(f"\n== {title}: top {TOP_FUNCTIONS} by {sort_key}")
        print("\n".join(line for line in stream.getvalue().splitlines() if line.strip()))


def profile_threads(runner: ThreadedRunner, count: int) -> pstats.Stats:
    """Run a threaded batch with a profiler in each thread and merge their statistics."""
    profilers: List[cProfile.Profile] = []
    local = threading.local()
    lock = threading.Lock()

    def wrap(operation: Callable[[], Any]) -> Callable[[], Any]:
        def profiled() -> Any:
            profiler = getattr(local, "profiler", None)
            if profiler is None:
                profiler = local.profiler = cProfile.Profile()
                with lock:
                    profilers.append(profiler)
            profiler.enable()
            try:
                return operation()
            finally:
                profiler.disable()

        return profiled

    runner.operations = [wrap(operation) for operation in runner.operations]
    runner.run(count)
    merged = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        merged.add(profiler)
    return merged


def profile_in_process(runner: Runner, title: str) -> None:
    runner.run(3)
    count = 1
    while True:
        started = time.perf_counter()
        runner.run(count)
        elapsed = time.perf_counter() - started
        if elapsed > 0.2:
            break
        count *= 4
    count = max(1, int(count * PROFILE_SECONDS / elapsed))
    if isinstance(runner, ThreadedRunner):
        stats = profile_threads(runner, count)
    else:
        profiler = cProfile.Profile()
        profiler.enable()
        runner.run(count)
        profiler.disable()
        stats = pstats.Stats(profiler)
    print_stats(stats, f"{title}, {count} operations")


def profile_import() -> None:
    """Print the modules whose import takes longest when importing tlskit, from -X importtime.

    The first import fills the bytecode cache, and the second is the one shown.
    """
    command = [sys.executable, "-X", "importtime", "-c", "import tlskit"]
    subprocess.run(command, capture_output=True, cwd=REPOSITORY)
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY)
    entries = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        entries.append((int(own), int(cumulative), name.rstrip()))
    total = next((cumulative for _, cumulative, name in entries if name.strip() == "tlskit"), None)
    print(
        f"== import tlskit: {total} us in all; top {IMPORT_LINES} modules by own import time (-X importtime, us)"
    )
    print(f"{'self':>8} {'cumulative':>10}  module")
    for self_us, cumulative_us, name in sorted(entries, reverse=True)[:IMPORT_LINES]:
        print(f"{self_us:>8} {cumulative_us:>10}  {name}")


def profile_child(command: List[str]) -> None:
    """Run ``command`` twice and print the second run's output, so bytecode compiling is not profiled."""
    subprocess.run(command, capture_output=True, cwd=REPOSITORY)
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY)
    print(result.stdout[:12000])
    if result.returncode != 0:
        print(result.stderr[-2000:], file=sys.stderr)


def profile_scenario(key: str, server_kind: str, stdlib_mode: str, directory: Path) -> int:
    """Profile tlskit in scenario ``key`` and print the result, with temporary files in ``directory``."""
    if key == "import":
        profile_import()
        return 0
    certificates = make_certificates(directory)
    with start_server(server_kind, certificates, stdlib_mode) as server:
        print(f"server: {server.description}")
        context = Context(server, certificates.ca_file, None, str(directory))
        scenario = build_scenarios(context, [key])[0]
        return profile_tlskit(scenario.key, scenario.contestants, server, context, str(directory))


def profile_tlskit(
    key: str, contestants: Any, server: BenchmarkServer, context: Context, directory: str
) -> int:
    contestant = next(contestant for contestant in contestants if contestant.key == "tlskit")
    if key == "process-get":
        program = Path(directory) / "tlskit_get.py"
        program.write_text(GET_PROGRAMS["tlskit"])
        small = server.url("/13b")
        profile_child(
            [sys.executable, "-m", "cProfile", "-s", "cumulative", str(program), small, context.ca_file]
        )
        return 0
    try:
        runner = contestant.start()
    except Unsupported as exc:
        print(f"tlskit in {key}: n/a ({exc})")
        return 0
    if key.startswith("download"):
        mode = key.split("-", 1)[1]
        command = [
            sys.executable, "-m", "cProfile", "-s", "tottime", "-m", "benchmarks.download_child", "tlskit", mode,
            server.url("/13b"), server.url("/100m"), context.ca_file, str(Path(directory) / "download"),
        ]  # fmt: skip
        profile_child(command)
        return 0
    try:
        profile_in_process(runner, f"tlskit in {key}")
    finally:
        runner.close()
    return 0
