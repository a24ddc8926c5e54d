"""An SVG bar chart of each client's time relative to the scenario's reference, from a run's JSON.

The x axis is logarithmic, because ratios run from about 0.5 (a resumed
handshake) to 20 and more (requests on keep-alive GETs). A ratio of 1 is the
scenario's reference, the floor. The import scenario has no ratio and is
left out. Shorter bars are faster. Written with the standard library
alone: ``python -m benchmarks.chart RESULTS_JSON OUTPUT_SVG``.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Dict, List, Optional, Tuple
from xml.sax.saxutils import escape

WIDTH = 980
LABEL_WIDTH = 300
RIGHT_MARGIN = 70
BAR_HEIGHT = 13
BAR_GAP = 4
GROUP_GAP = 26
TOP = 64
AXIS_HEIGHT = 40

COLORS: Dict[str, str] = {
    "floor": "#7f7f7f",
    "tlskit": "#d62728",
    "requests": "#1f77b4",
    "urllib3": "#2ca02c",
    "httpx": "#9467bd",
    "http.client": "#8c564b",
    "curl": "#ff7f0e",
}


def axis_bounds(ratios: List[float]) -> Tuple[float, float]:
    """Return powers of two that enclose every ratio and 1."""
    low = min([1.0, *ratios])
    high = max([1.0, *ratios])
    return 2.0 ** math.floor(math.log2(low)), 2.0 ** math.ceil(math.log2(high) + 0.01)


def text(
    x: float,
    y: float,
    content: str,
    size: int = 12,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = "#222",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}">{escape(content)}</text>'
    )


def chart_rows(run: Dict[str, Any]) -> List[Tuple[str, List[Tuple[str, str, Optional[float], str]]]]:
    """Return (scenario title, [(label, client, ratio or None, status)]) for every charted scenario."""
    groups = []
    for scenario in run["scenarios"]:
        if scenario["kind"] == "import":
            continue
        bars = [
            (
                contestant["label"],
                contestant["client"],
                contestant["ratio_to_reference"],
                contestant["status"],
            )
            for contestant in scenario["contestants"]
        ]
        groups.append((scenario["title"], bars))
    return groups


def render(run: Dict[str, Any]) -> str:
    """Return the SVG document for a run's JSON."""
    groups = chart_rows(run)
    ratios = [ratio for _, bars in groups for _, _, ratio, _ in bars if ratio]
    low, high = axis_bounds(ratios or [1.0])
    plot_left, plot_right = LABEL_WIDTH, WIDTH - RIGHT_MARGIN
    rows = sum(len(bars) for _, bars in groups)
    height = TOP + len(groups) * GROUP_GAP + rows * (BAR_HEIGHT + BAR_GAP) + AXIS_HEIGHT

    def x_of(ratio: float) -> float:
        return plot_left + (plot_right - plot_left) * math.log2(ratio / low) / math.log2(high / low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        text(12, 22, "tlskit benchmarks: time relative to the floor (log scale, shorter is faster)", 15, weight="bold"),
        text(12, 42, f"server: {run.get('server', '?')}; Python {run.get('machine', {}).get('python', '?')}; "
             f"{run.get('machine', {}).get('cpu', '?')}", 11, fill="#555"),
    ]  # fmt: skip

    # Grid lines at powers of two, labeled along the bottom.
    grid_bottom = height - AXIS_HEIGHT + 6
    ratio = low
    while ratio <= high * 1.0001:
        x = x_of(ratio)
        stroke = "#444" if ratio == 1 else "#ddd"
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{grid_bottom}" stroke="{stroke}"/>')
        parts.append(text(x, grid_bottom + 16, f"{ratio:g}x", 11, "middle", fill="#555"))
        ratio *= 2

    # One group of bars per scenario.
    y = float(TOP)
    for title, bars in groups:
        parts.append(text(12, y + 12, title, 13, weight="bold"))
        y += GROUP_GAP - 6
        for label, client, bar_ratio, status in bars:
            color = COLORS.get(client, "#17becf")
            weight = "bold" if client == "tlskit" else "normal"
            parts.append(text(plot_left - 8, y + BAR_HEIGHT - 2, label, 11, "end", weight))
            if bar_ratio:
                x_end = x_of(bar_ratio)
                left = min(x_of(low), x_end)
                parts.append(
                    f'<rect x="{left:.1f}" y="{y:.1f}" width="{max(x_end - left, 1):.1f}" '
                    f'height="{BAR_HEIGHT}" fill="{color}"/>'
                )
                parts.append(text(x_end + 4, y + BAR_HEIGHT - 2, f"{bar_ratio:.2f}x", 11, weight=weight))
            else:
                parts.append(text(plot_left + 4, y + BAR_HEIGHT - 2, status, 11, fill="#888"))
            y += BAR_HEIGHT + BAR_GAP
        y += 6
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_chart(run: Dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write(render(run))


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmarks.chart RESULTS_JSON OUTPUT_SVG", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as file:
        run = json.load(file)
    write_chart(run, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
