"""Small self-contained SVG charts for the HTML report (no JavaScript, no CDN)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 34, 48
COLORS = ("#2f6db5", "#e08a1e", "#3a9d5d", "#c0392b", "#7f5ea8")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _frame(title: str, y_max: float, y_label: str, percent: bool = False) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{value:.0%}" if percent else (f"{value:g}" if value < 1000 else f"{value:,.0f}")
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>')
    parts.append(f'<text x="14" y="{TOP + plot_h / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    return parts


def _legend(names: list[str]) -> list[str]:
    parts, x = [], WIDTH - RIGHT
    for i, name in reversed(list(enumerate(names))):
        x -= 14 + 7 * len(name) + 12
        parts.append(f'<rect x="{x}" y="10" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        parts.append(f'<text x="{x + 14}" y="19" font-size="11">{escape(name)}</text>')
    return parts


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[float]]], y_label: str = "",
              percent: bool = False, targets: list[tuple[str, float]] | None = None) -> str:
    """Grouped bars: one group per label, one bar per series; optional horizontal target lines."""
    peak = max([v for _, values in series for v in values if v is not None] + [t for _, t in targets or []] + [0])
    y_max = min(1.0, _nice_max(peak)) if percent and peak <= 1 else _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, y_max, y_label, percent) + _legend([name for name, _ in series])
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    every = max(1, len(labels) // 16)
    for g, label in enumerate(labels):
        x0 = LEFT + g * group + group * 0.1
        for s, (name, values) in enumerate(series):
            value = values[g] or 0
            h = plot_h * value / y_max
            parts.append(f'<rect x="{x0 + s * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(1.0, bar - 1):.1f}" '
                         f'height="{h:.1f}" fill="{COLORS[s % len(COLORS)]}"><title>{escape(name)} {escape(label)}: '
                         f'{value:.1%}</title></rect>' if percent else
                         f'<rect x="{x0 + s * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(1.0, bar - 1):.1f}" '
                         f'height="{h:.1f}" fill="{COLORS[s % len(COLORS)]}"><title>{escape(name)} {escape(label)}: '
                         f'{value:g}</title></rect>')
        if g % every == 0:
            parts.append(f'<text x="{LEFT + g * group + group / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
                         f'text-anchor="middle">{escape(label)}</text>')
    for name, value in targets or []:
        y = TOP + plot_h - plot_h * value / y_max
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#c0392b" '
                     f'stroke-dasharray="5,4"/>')
        parts.append(f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" font-size="11" fill="#c0392b" '
                     f'text-anchor="end">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(title: str, xs: list[float], series: list[tuple[str, list[float]]], x_label: str = "",
               y_label: str = "", x_format=lambda x: f"{x:g}") -> str:
    """Lines over a shared x axis."""
    peak = max([v for _, values in series for v in values] + [0])
    y_max = _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, y_max, y_label) + _legend([name for name, _ in series])
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    span = (x_max - x_min) or 1.0
    for s, (_name, values) in enumerate(series):
        points = " ".join(f"{LEFT + plot_w * (x - x_min) / span:.1f},{TOP + plot_h - plot_h * v / y_max:.1f}"
                          for x, v in zip(xs, values, strict=False))
        parts.append(f'<polyline fill="none" stroke="{COLORS[s % len(COLORS)]}" stroke-width="2" '
                     f'points="{points}"/>')
    for i in range(6):
        x = x_min + span * i / 5
        parts.append(f'<text x="{LEFT + plot_w * i / 5:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(x_format(x))}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 8}" font-size="11" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
