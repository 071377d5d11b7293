"""Figure builders for "Which rows decided" on Hidden states: (data, visual options) -> go.Figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.data.mnist import IMAGE_SIZE
from dashboard.figure_style import FONT
from dashboard.hidden_states.figures import INK_COLORS, ROW_TICKS, colors, unchecked_figure

FOR_COLOR = "#c92a2a"  # red: pushes the answer up (more evidence for it)
AGAINST_COLOR = "#1864ab"  # blue: pushes it down
# Diverging and see-through in the middle: a pixel with no attribution shows the faint image under it.
OVERLAY_COLORS = [[0.0, "rgba(24,100,171,1)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgba(201,42,42,1)"]]
FAINT_INK = 3.0  # with the overlay on, ink is drawn at a third of its strength so the colours stand out
# Three panels side by side on one row axis: image | integrated gradients per row | occlusion drop.
# The bar panels are as wide as three tick labels need at a projector's width (about 180 px each).
DOMAINS = [(0.0, 0.28), (0.34, 0.64), (0.70, 1.0)]


def _panel_title(text: str, domain: tuple[float, float]) -> dict:
    return dict(text=text, x=sum(domain) / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                yanchor="bottom", showarrow=False, font=dict(size=14))


def _signed_colors(values: np.ndarray) -> list[str]:
    return [FOR_COLOR if value >= 0 else AGAINST_COLOR for value in values]


def _symmetric_range(values: np.ndarray) -> list[float]:
    """An x range centred on 0 that holds every bar, with room for its end."""
    limit = float(np.max(np.abs(values))) if np.size(values) else 0.0
    limit = limit * 1.1 if limit > 0 else 1.0
    return [-limit, limit]


def _percent_format(values: np.ndarray) -> str:
    """Enough decimals to tell the ticks apart: a confident answer loses well under 1% to one row."""
    limit = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return ".0%" if limit >= 0.2 else ".1%" if limit >= 0.02 else ".2%"


def attribution_figure(image: np.ndarray, pixel_attributions: np.ndarray, row_attributions: np.ndarray,
                       occlusion_drops: np.ndarray, explained_class: int, overlay: bool = False,
                       title: str = "") -> go.Figure:
    """Image | attribution of each row | probability lost without each row, on one row axis (1..28 down).

    image (28, 28) in [0, 1]; pixel_attributions (28, 28) and row_attributions (28,) in logit units
    (integrated gradients of explained_class's logit); occlusion_drops (28,): P(explained_class) minus
    P with row t blanked. overlay draws pixel_attributions over a faint image, in the bars' colours.
    """
    rows = np.arange(1, IMAGE_SIZE + 1)
    columns = np.arange(1, image.shape[1] + 1)
    data = [dict(type="heatmap", z=image, x=columns, y=rows, xaxis="x", yaxis="y", colorscale=colors(INK_COLORS),
                 zmin=0, zmax=FAINT_INK if overlay else 1, showscale=False, name="image",
                 hovertemplate="row %{y}, column %{x}: ink %{z:.2f}<extra></extra>")]
    if overlay:
        limit = float(np.max(np.abs(pixel_attributions))) or 1.0
        data.append(dict(
            type="heatmap", z=pixel_attributions, x=columns, y=rows, xaxis="x", yaxis="y", colorscale=OVERLAY_COLORS,
            zmin=-limit, zmax=limit, zmid=0, name="pixel attribution",
            colorbar=dict(title=dict(text="logit", side="top", font=dict(size=12)), x=DOMAINS[0][1] + 0.005,
                          len=0.8, thickness=10, tickfont=dict(size=10)),
            hovertemplate="row %{y}, column %{x}: %{z:+.3f} logit<extra></extra>"))
    data += [
        dict(type="bar", x=row_attributions, y=rows, orientation="h", xaxis="x2", yaxis="y",
             name="integrated gradients", marker=dict(color=_signed_colors(row_attributions)),
             hovertemplate="row %{y}: %{x:+.3f} logit<extra></extra>"),
        dict(type="bar", x=occlusion_drops, y=rows, orientation="h", xaxis="x3", yaxis="y", name="occlusion",
             marker=dict(color=_signed_colors(occlusion_drops)),
             hovertemplate=f"without row %{{y}}: P({explained_class}) falls by %{{x:+.1%}}<extra></extra>"),
    ]
    plain = dict(showgrid=False, zeroline=False)
    bars = dict(zeroline=True, zerolinecolor="#495057", zerolinewidth=1, gridcolor="#eef0f4", nticks=4)
    layout = dict(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=16)), height=460, font=FONT,
        plot_bgcolor="white", paper_bgcolor="white", margin=dict(l=60, r=20, t=80, b=60), showlegend=False,
        bargap=0.15,
        xaxis=dict(domain=DOMAINS[0], anchor="y", title=dict(text="pixel column"), tickvals=[1, 14, 28],
                   scaleanchor="y", constrain="domain", **plain),
        xaxis2=dict(domain=DOMAINS[1], anchor="y", title=dict(text=f"contribution to logit of {explained_class}"),
                    range=_symmetric_range(row_attributions), **bars),
        xaxis3=dict(domain=DOMAINS[2], anchor="y", title=dict(text=f"drop in P({explained_class})"),
                    range=_symmetric_range(occlusion_drops), tickformat=_percent_format(occlusion_drops), **bars),
        # The one row axis, as on the figure above: row 1 at the top, square image pixels.
        yaxis=dict(autorange="reversed", tickvals=ROW_TICKS, constrain="domain", constraintoward="top",
                   title=dict(text="image row = timestep t"), **plain),
        annotations=[
            _panel_title("Pixel attribution on the image" if overlay else "Image", DOMAINS[0]),
            _panel_title("Integrated gradients, per row", DOMAINS[1]),
            _panel_title("Row t blanked out", DOMAINS[2]),
        ],
    )
    return unchecked_figure(data, layout)
