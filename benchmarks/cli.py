"""``python -m benchmarks``: start a loopback TLS server, run the scenarios, write the report.

The run clears the environment variables that change what clients trust
(see `benchmarks.environment`), makes a throwaway CA, and starts nginx or
the stdlib server. It runs each scenario with every client in interleaved
rounds, prints a table per scenario and the targets, and writes the JSON
and the SVG chart to the output directory. ``--profile SCENARIO`` instead profiles
tlskit alone in one scenario.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import chart, environment, report, targets
from .certs import make_certificates
from .method import ScenarioResult, Settings, run_scenario
from .profiling import profile_scenario
from .scenarios import SCENARIOS, Context, build_scenarios
from .servers import SERVER_MODES, start_server

DEFAULT_OUTPUT_DIRECTORY = Path(__file__).resolve().parent / "results"

# Many short rounds pair contestants more tightly than a few long ones when
# the machine's speed drifts, as it does on a shared two-core VM.
FULL = Settings(rounds=21, batch_seconds=0.15, warmup_operations=3)
QUICK = Settings(rounds=3, batch_seconds=0.04, warmup_operations=1)
# Downloads take one child process per batch, so they get fewer rounds.
FULL_DOWNLOAD_ROUNDS = 9
QUICK_DOWNLOAD_ROUNDS = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Compare tlskit with other HTTPS clients on a loopback TLS server.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few short rounds: a smoke run of under a minute"
    )
    parser.add_argument(
        "--server",
        choices=("auto", "nginx", "stdlib"),
        default="auto",
        help="server to benchmark against; auto uses nginx when it is on PATH (default: auto)",
    )
    parser.add_argument(
        "--stdlib-mode",
        choices=SERVER_MODES,
        default="threads",
        help="how the stdlib server handles connections (default: threads)",
    )

    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--rounds", type=int, help="rounds per scenario (default: 21, or 3 with --quick)")
    parser.add_argument(
        "--batch-seconds",
        type=float,
        help="target duration of one batch, in seconds (default: 0.15, or 0.04 with --quick)",
    )
    parser.add_argument(
        "--download-rounds",
        type=int,
        help="rounds of the 100 MiB download scenarios (default: 9, or 1 with --quick)",
    )
    parser.add_argument("--seed", type=int, help="seed for the order of contestants within rounds")

    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT_DIRECTORY,
        help=f"directory for the JSON and SVG files (default: {DEFAULT_OUTPUT_DIRECTORY})",
    )
    parser.add_argument(
        "--profile", metavar="SCENARIO", help="profile tlskit in SCENARIO instead of running the suite"
    )
    return parser


def parse_scenarios(parser: argparse.ArgumentParser, text: str) -> List[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    return keys


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    return base._replace(
        rounds=args.rounds or base.rounds,
        batch_seconds=args.batch_seconds or base.batch_seconds,
        seed=args.seed,
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_bundle(directory: Path, ca_file: str) -> Optional[str]:
    """Write certifi's CA bundle with the run's CA appended, as a large CA file; None without certifi."""
    try:
        import certifi
    except ImportError:
        return None
    bundle = directory / "certifi-and-ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + Path(ca_file).read_bytes())
    return str(bundle)


def run_suite(
    args: argparse.Namespace, keys: List[str], changed: Dict[str, Optional[str]], directory: Path
) -> int:
    settings = settings_from(args)
    download_rounds = args.download_rounds or (QUICK_DOWNLOAD_ROUNDS if args.quick else FULL_DOWNLOAD_ROUNDS)
    started = time.monotonic()
    load_before = os.getloadavg()
    results: List[ScenarioResult] = []
    certificates = make_certificates(directory)
    bundle = write_bundle(directory, certificates.ca_file)
    with start_server(args.server, certificates, args.stdlib_mode) as server:
        print(
            f"server: {server.description}; {settings.rounds} rounds of about {settings.batch_seconds:g} s per batch"
        )
        context = Context(server, certificates.ca_file, bundle, str(directory))
        for scenario in build_scenarios(context, keys):
            scenario_settings = settings
            if scenario.key.startswith("download"):
                scenario_settings = settings._replace(rounds=download_rounds)
            result = run_scenario(scenario, server, scenario_settings, log)
            results.append(result)
            report.print_scenario(result, sys.stdout)
        description = server.description

    target_results = targets.evaluate_all({result.scenario.key: result for result in results})
    report.print_targets(target_results, sys.stdout)
    meta = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "server": description,
        "machine": environment.describe_machine(),
        "changed_environment": changed,
        "duration_seconds": round(time.monotonic() - started, 1),
        # Other processes share the cores, so the 1, 5 and 15 minute load
        # averages at start and end tell how quiet the machine was.
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "download_rounds": download_rounds,
    }
    run = report.build_json(results, target_results, settings, meta)
    write_outputs(run, args.output_dir, "quick" if args.quick else "full")
    return 0


def write_outputs(run: Dict[str, Any], directory: Path, kind: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{kind}-{run['server'].split()[0].lower()}"
    json_path = directory / f"{name}.json"
    svg_path = directory / f"{name}.svg"
    json_path.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    chart.write_chart(run, str(svg_path))
    shutil.copyfile(json_path, directory / "latest.json")
    shutil.copyfile(svg_path, directory / "latest.svg")
    print(f"\nwrote {json_path} and {svg_path} (took {run['duration_seconds']:g} s)")


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keys = parse_scenarios(parser, args.scenarios)
    if args.profile is not None and args.profile not in SCENARIOS:
        parser.error(f"unknown scenario {args.profile}: choose from {', '.join(SCENARIOS)}")
    changed = environment.clear_variables()
    with tempfile.TemporaryDirectory(prefix="tlskit-bench-") as directory:
        changed.update(environment.use_bytecode_cache(str(Path(directory) / "pycache")))
        if args.profile is not None:
            return profile_scenario(args.profile, args.server, args.stdlib_mode, Path(directory))
        return run_suite(args, keys, changed, Path(directory))
