"""Figure builders for how long a network remembers and where its dynamics settle: (data, options) -> go.Figure."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from core.data.mnist import IMAGE_SIZE
from dashboard.figure_style import layout_spec
from dashboard.hidden_states.figures import ROW_TICKS

RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
STABLE_COLOR = "#1971c2"  # blue: perturbations fade
UNSTABLE_COLOR = "#e03131"  # red: perturbations grow
CHOSEN_COLOR = "#212529"  # near-black ring: not the orange the trajectory figure uses for its timestep


def memory_curve_figure(curves: Mapping[str, np.ndarray], names: Mapping[str, str], title: str = "",
                        styles: Mapping[str, tuple[str, str]] | None = None) -> go.Figure:
    """One line per run: curves {run id: (28,) mean ‖∂ logits_28 / ∂ x_t‖}, row t on x, a log y axis.

    names {run id: legend label}; styles {run id: (colour, dash)} to draw the runs as another chart
    of them does (figure_style.run_styles), else RUN_COLORS in turn. A flat line means the last
    answer still depends on early rows (long memory); a line falling to the left means early rows
    are forgotten.
    """
    rows = np.arange(1, IMAGE_SIZE + 1)
    data = []
    for position, (run_id, curve) in enumerate(curves.items()):
        curve = np.asarray(curve, dtype=float)
        name = names.get(run_id, run_id)
        color, dash = (styles or {}).get(run_id, (RUN_COLORS[position % len(RUN_COLORS)], "solid"))
        data.append(go.Scatter(
            x=rows, y=curve, mode="lines+markers", name=name,
            line=dict(color=color, dash=dash, width=2.5), marker=dict(size=5),
            # The ratio to row 28 says how much of the last row's influence row t keeps.
            customdata=curve / curve[-1],
            hovertemplate=f"{name}<br>row %{{x}}: %{{y:.2e}} (%{{customdata:.1e}} × row 28's)<extra></extra>"))
    values = np.concatenate([np.asarray(curve, dtype=float) for curve in curves.values()]) if curves else np.ones(1)
    ticks = log_ticks(float(values[values > 0].min(initial=1.0)), float(values.max(initial=1.0)))
    layout = layout_spec(
        title, height=480, margin=dict(l=70, r=20, t=60, b=150),
        legend=dict(orientation="h", x=0, y=-0.3, yanchor="top", title=dict(text="run:")),
        xaxis=dict(title=dict(text="image row t (timestep)"), range=[0.5, IMAGE_SIZE + 0.5], tickvals=ROW_TICKS,
                   showgrid=False),
        # Labels at 1, 2 and 5 of each decade, written in full (Plotly's "D2" writes 20 as a bare "2").
        yaxis=dict(title=dict(text="‖∂ final logits / ∂ row t‖ (mean)"), type="log", tickvals=ticks,
                   ticktext=[f"{tick:g}" for tick in ticks], gridcolor="#eef0f4"),
    )
    return go.Figure(data=data, layout=layout)


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times powers of ten, from the last of them at or below low to the first at or above high."""
    first, last = int(np.floor(np.log10(low))), int(np.ceil(np.log10(high)))
    ticks = [mantissa * 10.0**power for power in range(first, last + 1) for mantissa in (1, 2, 5)]
    start = max(index for index, tick in enumerate(ticks) if tick <= low * (1 + 1e-9))
    stop = min(index for index, tick in enumerate(ticks) if tick >= high * (1 - 1e-9))
    return ticks[start:stop + 1]


def describe_time_constant(tau: float) -> str:
    """τ in words for hover text: 'fades by e in 3.2 rows', 'grows by e every 1.4 rows', 'neither fades nor grows'."""
    if not np.isfinite(tau):
        return "neither fades nor grows"
    return f"fades by e in {tau:.3g} rows" if tau > 0 else f"grows by e every {-tau:.3g} rows"


def eigenvalue_figure(eigenvalues: np.ndarray, time_constants: np.ndarray, title: str = "") -> go.Figure:
    """Eigenvalues (units,) complex of one point's Jacobian in the complex plane, with the unit circle;
    inside (|λ| < 1, blue) a perturbation fades, outside (red) it grows. Hover gives λ, |λ| and τ."""
    eigenvalues = np.asarray(eigenvalues, dtype=complex)
    time_constants = np.asarray(time_constants, dtype=float)
    angle = np.linspace(0, 2 * np.pi, 361)
    data = [go.Scatter(x=np.cos(angle), y=np.sin(angle), mode="lines", name="unit circle |λ| = 1",
                       line=dict(color="#868e96", width=1.5, dash="dash"), hoverinfo="skip")]
    for stable in (True, False):
        chosen = (np.abs(eigenvalues) < 1.0) == stable
        if not chosen.any():
            continue
        text = [f"λ = {value.real:.3f} {'+' if value.imag >= 0 else '−'} {abs(value.imag):.3f}i<br>"
                f"|λ| = {abs(value):.3f}: {describe_time_constant(tau)}"
                for value, tau in zip(eigenvalues[chosen], time_constants[chosen], strict=False)]
        data.append(go.Scatter(
            x=eigenvalues[chosen].real, y=eigenvalues[chosen].imag, mode="markers", text=text,
            name="|λ| < 1: fades" if stable else "|λ| ≥ 1: grows or stays",
            marker=dict(color=STABLE_COLOR if stable else UNSTABLE_COLOR, size=8, opacity=0.8,
                        line=dict(color="white", width=0.5)),
            hovertemplate="%{text}<extra></extra>"))
    reach = max(1.15, float(np.abs(eigenvalues).max(initial=0.0)) * 1.1)
    layout = layout_spec(
        # The legend beside the square plot (which leaves room on its right), clear of the axis title.
        title, height=460, margin=dict(l=60, r=20, t=60, b=60),
        legend=dict(x=1.02, y=1, xanchor="left", yanchor="top"),
        xaxis=dict(title=dict(text="real part of λ"), range=[-reach, reach], zeroline=True,
                   zerolinecolor="#dee2e6", showgrid=False),
        # Equal units on both axes, so the unit circle is a circle.
        yaxis=dict(title=dict(text="imaginary part of λ"), range=[-reach, reach], scaleanchor="x", zeroline=True,
                   zerolinecolor="#dee2e6", showgrid=False),
    )
    return go.Figure(data=data, layout=layout)


def add_fixed_points(figure: go.Figure, projected_points: np.ndarray, stable: np.ndarray,
                     fixed: np.ndarray | None = None, chosen: int | None = None) -> go.Figure:
    """Mark points (k, 2), already projected like the figure's paths, on a state-space figure (for
    example hidden_states/figures.py trajectory_figure): filled for stable, hollow for unstable; fixed (k,) bool
    marks which are fixed (the others slow points, drawn as diamonds); chosen is outlined. Returns figure."""
    projected_points = np.asarray(projected_points, dtype=float).reshape(-1, 2)
    stable = np.asarray(stable, dtype=bool)
    fixed = np.ones(len(stable), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    numbers = np.arange(1, len(stable) + 1)
    for is_stable in (True, False):
        for is_fixed in (True, False):
            members = (stable == is_stable) & (fixed == is_fixed)
            if not members.any():
                continue
            kind = f"{'stable' if is_stable else 'unstable'} {'fixed' if is_fixed else 'slow'} point"
            color = STABLE_COLOR if is_stable else UNSTABLE_COLOR
            figure.add_trace(go.Scatter(
                x=projected_points[members, 0], y=projected_points[members, 1], mode="markers+text",
                name=kind + "s", text=[f"#{number}" for number in numbers[members]], textposition="middle right",
                textfont=dict(size=11, color=color),
                marker=dict(symbol=("circle" if is_fixed else "diamond") + ("" if is_stable else "-open"),
                            size=14, color=color, line=dict(color=color if not is_stable else "white", width=2)),
                hovertemplate=f"{kind} %{{text}}<extra></extra>"))
    if chosen is not None:
        figure.add_trace(go.Scatter(
            x=[projected_points[chosen, 0]], y=[projected_points[chosen, 1]], mode="markers",
            name=f"chosen: #{chosen + 1}", hoverinfo="skip",
            marker=dict(size=26, color="rgba(0,0,0,0)", line=dict(color=CHOSEN_COLOR, width=3))))
    return figure
