"""A bar chart drawn on the server as plain SVG geometry (no JavaScript, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 800
HEIGHT = 200
LEFT = 48
BOTTOM = 22
TOP = 8


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    maximum: float
    # (x, text, text-anchor): the first label starts at its bar, the last ends at its bar, so none is cut off.
    labels: list[tuple[float, str, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM
    top: int = TOP

    @property
    def base_y(self) -> int:
        return self.height - self.bottom


def bar_chart(points: list[tuple[str, float]]) -> Chart:
    """Bars for (label, value) points, scaled to the largest value; a few x-axis labels."""
    plot_w = WIDTH - LEFT
    plot_h = HEIGHT - BOTTOM - TOP
    maximum = max((value for _, value in points), default=0.0)
    scale = plot_h / maximum if maximum > 0 else 0.0
    step = plot_w / max(len(points), 1)
    gap = min(2.0, step * 0.2)
    bars = []
    for i, (label, value) in enumerate(points):
        h = value * scale
        bars.append(
            Bar(LEFT + i * step + gap / 2, HEIGHT - BOTTOM - h, max(step - gap, 0.5), h, label, value)
        )
    labels: list[tuple[float, str, str]] = []
    if points:
        last = len(points) - 1
        for i in sorted({0, len(points) // 2, last}):
            anchor = "start" if i == 0 else ("end" if i == last else "middle")
            x = LEFT + i * step + (0 if anchor == "start" else step if anchor == "end" else step / 2)
            labels.append((x, points[i][0], anchor))
    return Chart(bars=bars, maximum=maximum, labels=labels)


METRICS: dict[str, tuple[str, Any]] = {
    "requests": ("Requests", lambda r: float(r.requests)),
    "tokens": ("Tokens (in + out)", lambda r: float(r.input_tokens + r.output_tokens)),
    "cost": ("Cost (USD)", lambda r: float(r.cost_usd)),
}
