"""Plotly figures for the app. Plotting only: every number comes from laat_core."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

GROUP_COLOURS = {"base": "#1f77b4", "novel": "#d62728"}


def safe(names: list[str]) -> list[str]:
    """Class names as plain text: plotly renders <b>, <i>, <br> and friends in labels."""
    return [html.escape(name, quote=False) for name in names]


def cosine_heatmaps(names: list[str], before: np.ndarray, after: np.ndarray, method: str) -> go.Figure:
    """Before and after side by side on one shared colour scale, hover shows both class names."""
    names = safe(names)
    hover = "row: %{y}<br>column: %{x}<br>cosine: %{z:.3f}<extra></extra>"
    # Long names would squeeze the matrices to slivers: ticks show a shortened name, the hover the full one.
    ticks = {"tickvals": names, "ticktext": [_short(n) for n in names], "showticklabels": len(names) <= 40}
    fig = _side_by_side(
        ("before: raw anchors", f"after: {method}"),
        gap=0.08,
        xaxis=ticks,
        xaxis2=ticks,
        yaxis={"autorange": "reversed", **ticks},
        yaxis2={"autorange": "reversed", **ticks},
        coloraxis={"colorscale": "RdBu_r", "cmin": -1, "cmax": 1, "colorbar": {"title": "cosine"}},
        height=520,
        margin={"t": 40, "l": 10, "r": 10, "b": 10},
    )
    for axes, matrix in ((("x", "y"), before), (("x2", "y2"), after)):
        fig.add_trace(
            go.Heatmap(z=matrix, x=names, y=names, coloraxis="coloraxis", hovertemplate=hover, xaxis=axes[0],
                       yaxis=axes[1])
        )  # fmt: skip
    return fig


TICK_CHARS = 18


def _short(name: str) -> str:
    return name if len(name) <= TICK_CHARS else name[: TICK_CHARS - 1] + "…"


def cosine_histogram(before: np.ndarray, after: np.ndarray) -> go.Figure:
    bins = {"start": -1, "end": 1, "size": 0.02}
    return go.Figure(
        data=[
            go.Histogram(x=before, name="before", xbins=bins, opacity=0.6),
            go.Histogram(x=after, name="after", xbins=bins, opacity=0.6),
        ],
        layout={
            "barmode": "overlay",
            "height": 300,
            "xaxis": {"title": {"text": "pairwise cosine similarity"}},
            "yaxis": {"title": {"text": "pairs"}},
            "margin": {"t": 30, "l": 10, "r": 10, "b": 10},
        },
    )


def anchor_maps(names: list[str], before: np.ndarray, after: np.ndarray, method_label: str, n_base: int) -> go.Figure:
    names = safe(names)
    # Two separate fits: distances within a panel mean something, positions across the panels do not.
    fig = _side_by_side(
        (f"before ({method_label}, own fit)", f"after ({method_label}, own fit)"),
        height=420,
        margin={"t": 40, "l": 10, "r": 10, "b": 10},
    )
    kind = ["base" if i < n_base else "novel" for i in range(len(names))]
    traces = []
    for axes, coords in ((("x", "y"), before), (("x2", "y2"), after)):
        for group, symbol in (("base", "circle"), ("novel", "diamond")):
            rows = [i for i, k in enumerate(kind) if k == group]
            if not rows:
                continue
            traces.append(
                go.Scatter(
                    x=coords[rows, 0],
                    y=coords[rows, 1],
                    mode="markers+text" if len(names) <= 30 else "markers",
                    text=[names[i] for i in rows],
                    textposition="top center",
                    name=group,
                    marker={"symbol": symbol, "size": 9, "color": GROUP_COLOURS[group]},
                    showlegend=axes[0] == "x",
                    hovertemplate="%{text}<extra>" + group + "</extra>",
                    xaxis=axes[0],
                    yaxis=axes[1],
                )
            )
    fig.add_traces(traces)  # one update: each add_trace re-validates the figure
    return fig


def probability_bars(before: dict[str, float], after: dict[str, float], title: str) -> go.Figure:
    return go.Figure(
        data=[
            go.Bar(y=safe(list(before)), x=list(before.values()), orientation="h", name="clean"),
            go.Bar(y=safe(list(after)), x=list(after.values()), orientation="h", name="adversarial"),
        ],
        layout={
            "title": {"text": html.escape(title, quote=False)},
            "barmode": "group",
            "height": 300,
            "xaxis": {"range": [0, 1], "title": {"text": "probability"}},
            "yaxis": {"autorange": "reversed"},
            "margin": {"t": 40, "l": 10, "r": 10, "b": 10},
        },
    )


def robustness_curves(points: list[dict]) -> go.Figure:
    """Accuracy vs eps; one line per (model, split); novel solid, base dashed; 95% CI as error bars."""
    fig = go.Figure()
    keys = sorted({(p["model"], p["split"]) for p in points})
    for model, split in keys:
        series = sorted((p for p in points if p["model"] == model and p["split"] == split), key=lambda p: p["eps_255"])
        fig.add_trace(
            go.Scatter(
                x=[p["eps_255"] for p in series],
                y=[p["accuracy"] for p in series],
                name=f"{model} · {split}",
                mode="lines+markers",
                line={"dash": "solid" if split == "novel" else "dash"},
                error_y={"type": "data", "array": [p["ci95"] for p in series], "visible": True},
            )
        )
    fig.update_layout(
        height=420,
        xaxis_title="eps (x/255, L-inf)",
        yaxis={"title": "accuracy", "range": [0, 1]},
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
    )
    return fig


def training_curves(log: list[dict]) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy (base classes)"))
    epochs = [e["epoch"] for e in log]
    fig.add_trace(go.Scatter(x=epochs, y=[e["loss"] for e in log], name="train loss", mode="lines+markers"), 1, 1)
    for key, label in (
        ("train_clean_acc", "train clean"),
        ("train_adv_acc", "train adversarial"),
        ("val_clean_acc", "validation clean"),
        ("val_pgd_acc", "validation PGD-10"),
    ):
        if any(e.get(key) is not None for e in log):
            fig.add_trace(go.Scatter(x=epochs, y=[e.get(key) for e in log], name=label, mode="lines+markers"), 1, 2)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(height=320, margin={"t": 40, "l": 10, "r": 10, "b": 10})
    return fig


def regime_heatmaps(matrices: dict[str, tuple[list[str], np.ndarray, np.ndarray]]) -> go.Figure:
    """One row per anchor regime: the raw and the expanded anchors' cosine matrix, one colour scale."""
    regimes = list(matrices)
    titles = [f"{regime}: {kind}" for regime in regimes for kind in ("raw anchors", "after expansion")]
    fig = make_subplots(rows=len(regimes), cols=2, subplot_titles=titles, vertical_spacing=0.08)
    hover = "%{y}<br>%{x}<br>cosine: %{z:.3f}<extra></extra>"
    for r, regime in enumerate(regimes, start=1):
        names, raw, expanded = matrices[regime]
        for col, matrix in ((1, raw), (2, expanded)):
            fig.add_trace(go.Heatmap(z=matrix, x=names, y=names, coloraxis="coloraxis", hovertemplate=hover), r, col)
            fig.update_yaxes(autorange="reversed", showticklabels=False, row=r, col=col)
            fig.update_xaxes(showticklabels=False, row=r, col=col)
    fig.update_layout(
        coloraxis={"colorscale": "RdBu_r", "cmin": -1, "cmax": 1, "colorbar": {"title": "cosine"}},
        height=380 * len(regimes),
        margin={"t": 40, "l": 10, "r": 10, "b": 10},
    )
    return fig


def method_bars(results: list, metric_label: str) -> go.Figure:
    """Accuracy per method, one bar group per regime, 95% intervals over training seeds as error bars."""
    fig = go.Figure()
    for regime in dict.fromkeys(r.regime for r in results):
        rows = [r for r in results if r.regime == regime]
        fig.add_trace(
            go.Bar(
                x=[r.row for r in rows],
                y=[r.mean for r in rows],
                name=regime,
                error_y={"type": "data", "array": [0 if np.isnan(r.ci95) else r.ci95 for r in rows], "visible": True},
                customdata=[r.n_seeds for r in rows],
                hovertemplate="%{x}: %{y:.3f} (%{customdata} seeds)<extra>" + regime + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=380,
        yaxis={"title": metric_label, "range": [0, 1]},
        margin={"t": 30, "l": 10, "r": 10, "b": 10},
    )
    return fig


def _side_by_side(titles: tuple[str, str], gap: float = 0.1, **layout) -> go.Figure:
    """Two panels side by side, laid out in one constructor: make_subplots and per-panel update calls cost most
    of each figure's time (plotly validates every update), and the app builds several figures per call
    (benchmarks: `python benchmarks/bench_figures.py`)."""
    width = (1.0 - gap) / 2
    left, right = layout.pop("xaxis", {}), layout.pop("xaxis2", {})
    return go.Figure(
        layout={
            "xaxis": {"domain": [0.0, width], **left},
            "xaxis2": {"domain": [1.0 - width, 1.0], "anchor": "y2", **right},
            "yaxis2": {"anchor": "x2", **layout.pop("yaxis2", {})},
            "annotations": [
                {"text": title, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
                 "yanchor": "bottom", "showarrow": False, "font": {"size": 16}}
                for title, x in zip(titles, (width / 2, 1.0 - width / 2), strict=True)
            ],
            **layout,
        }
    )  # fmt: skip


def anchor_space(space, label: str, true_class: str) -> go.Figure:
    """The clean and the adversarial image's features among the anchors (PCA of the anchors), and their
    cosine to every anchor: the picture of an attack pushing a feature from one anchor towards another."""
    fig = _side_by_side(("features among the anchors (PCA)", "cosine to each anchor"))
    if space is None:
        left = fig.layout.xaxis.domain  # the left panel's centre
        fig.add_annotation(text="this model has no anchors (linear head)", showarrow=False, x=sum(left) / 2, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
        return fig
    names = safe(space.names)
    traces = [
        go.Scatter(
            x=space.anchors_2d[:, 0],
            y=space.anchors_2d[:, 1],
            mode="markers+text" if len(names) <= 20 else "markers",
            text=names,
            textposition="top center",
            name="anchors",
            marker={"color": "#888", "size": 8},
        )
    ]
    for point, name, symbol, colour in (
        (space.clean_2d, "clean image", "circle", "#2ca02c"),
        (space.adversarial_2d, "adversarial image", "x", "#d62728"),
    ):
        traces.append(
            go.Scatter(
                x=[point[0]],
                y=[point[1]],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 14, "color": colour},
            )
        )
    order = sorted(range(len(names)), key=lambda i: -max(space.cos_clean[i], space.cos_adversarial[i]))[:8]
    for values, name, colour in (
        (space.cos_clean, "clean", "#2ca02c"),
        (space.cos_adversarial, "adversarial", "#d62728"),
    ):
        traces.append(
            go.Bar(
                x=[names[i] for i in order], y=[values[i] for i in order], name=name, marker_color=colour,
                xaxis="x2", yaxis="y2",
            )
        )  # fmt: skip
    fig.add_traces(traces)  # one update: each add_trace re-validates the figure
    title = None
    if true_class in space.names:
        i = space.names.index(true_class)
        title = html.escape(
            f"{label}: cosine to '{true_class}' {space.cos_clean[i]:.2f} → {space.cos_adversarial[i]:.2f}", quote=False
        )
    fig.update_layout(
        title=title,
        barmode="group",
        height=440,
        margin={"t": 60, "l": 10, "r": 10, "b": 10},
        legend={"orientation": "h", "y": -0.35},
    )
    return fig
