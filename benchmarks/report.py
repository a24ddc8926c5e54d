"""The run's outputs: a table on stdout, a JSON document with every measurement, and Markdown.

``python -m benchmarks.report RESULTS_JSON`` prints a saved run as Markdown tables.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any, Dict, List, Optional, TextIO

from .content import LARGE
from .method import ContestantResult, ScenarioResult, Settings
from .targets import TargetResult

REQUESTS_KEY = "requests"


def format_seconds(seconds: Optional[float]) -> str:
    """Format a duration in us, ms or s, whichever keeps the number between 1 and 1000."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def format_number(value: Optional[float], digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def spread(result: ContestantResult) -> Optional[float]:
    """Return the interquartile range of the per-round times relative to their median."""
    values = [value for value in result.seconds if value is not None]
    median = result.median()
    if len(values) < 2 or not median:
        return None
    quartiles = statistics.quantiles(values, n=4)
    return (quartiles[2] - quartiles[0]) / median


def contestant_columns(scenario_result: ScenarioResult, result: ContestantResult) -> List[str]:
    """Return the table cells after the label for one contestant."""
    scenario = scenario_result.scenario
    reference = scenario_result.find(scenario.reference)
    if not result.ok:
        return [result.status]
    relative_spread = spread(result)
    cells = [
        format_seconds(result.median()),
        format_number(None if relative_spread is None else 100 * relative_spread, 0, "%"),
    ]
    if scenario.kind == "import":
        difference = result.paired_difference(reference)
        cells.append(format_number(None if difference is None else difference * 1e3, 1, " ms"))
        return cells
    cells.append(format_number(result.paired_ratio(reference), 2, "x"))
    cells.append(format_number(result.paired_ratio(scenario_result.find(REQUESTS_KEY)), 2, "x"))
    if scenario.key.startswith("download"):
        median = result.median()
        cells.append(format_number(None if not median else LARGE.length / median / 1e6, 0, " MB/s"))
        cells.append(format_number(result.median_metric("peak_above_baseline_mib"), 1, " MiB"))
        cells.append(format_number(result.median_metric("peak_rss_mib"), 1, " MiB"))
    else:
        cells.append(str(result.count))
    return cells


def headers_for(scenario_result: ScenarioResult) -> List[str]:
    scenario = scenario_result.scenario
    if scenario.kind == "import":
        return ["client", "median", "IQR", "over python"]
    headers = ["client", "median", "IQR", f"/{scenario.reference}", "/requests"]
    if scenario.key.startswith("download"):
        return headers + ["throughput", "peak-base", "peak RSS"]
    return headers + ["batch"]


def format_table(rows: List[List[str]]) -> List[str]:
    """Align rows in columns. A row of two cells spans its second cell over the rest."""
    widths = [
        max(len(row[index]) for row in rows if len(row) > 2 or index == 0) for index in range(len(rows[0]))
    ]
    lines = []
    for row in rows:
        if len(row) == 2 and len(rows[0]) > 2:
            lines.append(f"  {row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  " + "  ".join(cells))
    return lines


def print_scenario(scenario_result: ScenarioResult, out: TextIO) -> None:
    scenario = scenario_result.scenario
    reference = next(
        (result.label for result in scenario_result.results if result.key == scenario.reference), "?"
    )
    print(f"\n{scenario.title} ({scenario.unit}; reference: {reference})", file=out)
    rows = [headers_for(scenario_result)]
    for result in scenario_result.results:
        rows.append([result.label] + contestant_columns(scenario_result, result))
    for line in format_table(rows):
        print(line, file=out)


def print_targets(targets: List[TargetResult], out: TextIO) -> None:
    print("\ntargets for tlskit", file=out)
    rows = [["target", "value", "goal", "status"]]
    for target in targets:
        bound = ("<= " if target.at_most else ">= ") + f"{target.limit:g} {target.unit}"
        value = "-" if target.value is None else f"{target.value:.3g}"
        status = target.status + (f": {target.detail}" if target.detail else "")
        rows.append([target.name, value, bound, status])
    widths = [max(len(row[index]) for row in rows) for index in range(3)]
    for row in rows:
        print(
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3], file=out
        )


def contestant_json(scenario_result: ScenarioResult, result: ContestantResult) -> Dict[str, Any]:
    scenario = scenario_result.scenario
    reference = scenario_result.find(scenario.reference)
    metric_names = sorted({name for metrics in result.metrics for name in metrics if name != "seconds"})
    difference = result.paired_difference(reference)
    return {
        "key": result.key,
        "label": result.label,
        "client": result.client,
        "status": result.status,
        "operations_per_batch": result.count,
        "seconds_per_operation": result.seconds,
        "median_seconds": result.median(),
        "interquartile_spread": spread(result),
        "ratio_to_reference": result.paired_ratio(reference),
        "ratio_to_requests": result.paired_ratio(scenario_result.find(REQUESTS_KEY)),
        "difference_to_reference_seconds": difference,
        "metrics": {name: result.median_metric(name) for name in metric_names},
    }


def build_json(
    results: List[ScenarioResult],
    targets: List[TargetResult],
    settings: Settings,
    meta: Dict[str, Any],
) -> Dict[str, Any]:
    """Return the whole run as a JSON-ready dictionary."""
    return {
        **meta,
        "settings": settings._asdict(),
        "scenarios": [
            {
                "key": scenario_result.scenario.key,
                "title": scenario_result.scenario.title,
                "unit": scenario_result.scenario.unit,
                "kind": scenario_result.scenario.kind,
                "reference": scenario_result.scenario.reference,
                "contestants": [
                    contestant_json(scenario_result, result) for result in scenario_result.results
                ],
            }
            for scenario_result in results
        ],
        "targets": [target._asdict() for target in targets],
    }


def markdown_cell(contestant: Dict[str, Any], name: str, digits: int = 2, suffix: str = "x") -> str:
    value = contestant.get(name)
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def format_markdown(run: Dict[str, Any]) -> str:
    """Return a run's scenarios and targets as Markdown tables, for docs/benchmarks.md."""
    lines: List[str] = []
    for scenario in run["scenarios"]:
        lines += [f"**{scenario['title']}** ({scenario['unit']})", ""]
        if scenario["kind"] == "import":
            lines += ["| client | median | over `python -c pass` |", "|---|---:|---:|"]
        else:
            lines += ["| client | median | / floor | / requests | IQR |", "|---|---:|---:|---:|---:|"]
        for contestant in scenario["contestants"]:
            label = f"**{contestant['label']}**" if contestant["client"] == "tlskit" else contestant["label"]
            if contestant["status"] != "ok":
                lines.append(
                    f"| {label} | {contestant['status']} |"
                    + " |" * (2 if scenario["kind"] == "import" else 3)
                )
                continue
            median = format_seconds(contestant["median_seconds"])
            if scenario["kind"] == "import":
                difference = contestant["difference_to_reference_seconds"]
                lines.append(
                    f"| {label} | {median} | {format_number(None if difference is None else difference * 1e3, 1, ' ms')} |"
                )
                continue
            spread_value = contestant["interquartile_spread"]
            cells = [
                median,
                markdown_cell(contestant, "ratio_to_reference"),
                markdown_cell(contestant, "ratio_to_requests"),
                format_number(None if spread_value is None else 100 * spread_value, 0, "%"),
            ]
            metrics = contestant["metrics"]
            if scenario["key"].startswith("download") and contestant["median_seconds"]:
                cells[0] += f", {LARGE.length / contestant['median_seconds'] / 1e6:.0f} MB/s"
                if metrics.get("peak_above_baseline_mib") is not None:
                    cells[0] += f", peak +{metrics['peak_above_baseline_mib']:.1f} MiB"
                elif metrics.get("peak_rss_mib") is not None:
                    cells[0] += f", peak RSS {metrics['peak_rss_mib']:.1f} MiB"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")

    lines += ["**Targets for tlskit**", "", "| target | value | goal | status |", "|---|---:|---|---|"]
    for target in run["targets"]:
        bound = ("<= " if target["at_most"] else ">= ") + f"{target['limit']:g} {target['unit']}"
        value = "-" if target["value"] is None else f"{target['value']:.3g}"
        status = target["status"] + (f": {target['detail']}" if target["detail"] else "")
        lines.append(f"| {target['name']} | {value} | {bound} | {status} |")
    return "\n".join(lines) + "\n"


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.report RESULTS_JSON", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as file:
        print(format_markdown(json.load(file)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
