"""Matplotlib figures of a search, drawn without pyplot (no global state, no display)."""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave

from galstm_torch.files.atomic import atomic_write


@dataclass(frozen=True)
class GenerationPoint:
    generation: int
    best: float
    mean: float
    low: float
    high: float
    best_so_far: float


@dataclass(frozen=True)
class GenomePoint:
    genome: str
    params: int
    val_acc: float
    test_acc: float
    fitness: float


class Throttle:
    """When a search's figures are drawn again: drawing them costs about 0.4 s, a quarter of
    a generation on a GPU, so they are redrawn only once ``1 / share`` times their last cost
    has passed (every generation where generations are slow); the end draws the last."""

    def __init__(self, share: float = 0.05) -> None:
        self.share = share
        self.due = 0.0  # time.monotonic() from which to draw again
        self.drawn: Optional[int] = None  # the generation the figures last showed

    def ready(self) -> bool:
        return time.monotonic() >= self.due

    def draw(self, generation: int, drawing: Callable[[], None]) -> None:
        """Run ``drawing`` (which must not raise) and schedule the next one."""
        start = time.monotonic()
        drawing()
        self.due = start + (time.monotonic() - start) / self.share
        self.drawn = generation


def new_figure() -> Figure:
    """A figure on the Agg canvas, without pyplot: no global backend switch, no window."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Write atomically, so a viewer never sees half a PNG."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    atomic_write(path, png.getvalue())


def render(fig: Figure) -> "np.ndarray":
    """The figure drawn once, as an RGB array [height, width, 3] (its layout and rasterising
    are most of a figure's cost: the PNG and TensorBoard share one drawing)."""
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # new_figure's canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_rgb_png(rgb: "np.ndarray", path: Path) -> None:
    """An RGB array as a PNG, written atomically."""
    png = io.BytesIO()
    imsave(png, rgb, format="png")
    atomic_write(path, png.getvalue())


def fitness_figure(history: list[GenerationPoint]) -> Figure:
    """Best and mean fitness per generation, a min-max band and the best so far."""
    fig = new_figure()
    ax = fig.subplots()
    gens = [p.generation for p in history]
    ax.fill_between(gens, [p.low for p in history], [p.high for p in history], alpha=0.2,
                    label="min to max")
    ax.plot(gens, [p.mean for p in history], marker=".", label="mean")
    ax.plot(gens, [p.best for p in history], marker="o", label="best")
    ax.plot(gens, [p.best_so_far for p in history], linestyle="--", label="best so far")
    ax.set(xlabel="generation", ylabel="fitness", title="Fitness per generation")
    # the default locator is an AutoLocator (a MaxNLocator); the stub types Locator.set_params bare
    ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def accuracy_params_figure(points: list[GenomePoint]) -> Figure:
    """Validation and test accuracy against parameter count, one point per genome."""
    fig = new_figure()
    ax = fig.subplots()
    params = [p.params for p in points]
    ax.scatter(params, [p.val_acc for p in points], s=16, label="val accuracy")
    ax.scatter(params, [p.test_acc for p in points], s=16, marker="x", label="test accuracy")
    best = max(points, key=lambda p: p.fitness, default=None)
    if best is not None:
        ax.annotate(best.genome, (best.params, best.fitness), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="parameters", ylabel="accuracy",
           title=f"Accuracy against size ({len(points)} genomes)")
    if points:  # a log axis needs positive data: none yet when every genome failed
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def pareto_figure(fronts: "list[tuple[int, list[tuple[float, float]]]]", cost: str,
                  knee: "tuple[float, float] | None" = None, *,
                  staircase: bool = True) -> Figure:
    """Each generation's front as a staircase of (cost, accuracy), fading in from the first
    (faint) to the last (solid), with the knee marked. ``staircase=False`` (three or more
    objectives, where the projection is not a front) draws points only."""
    fig = new_figure()
    ax = fig.subplots()
    for k, (generation, points) in enumerate(fronts):
        last = k == len(fronts) - 1
        pts = sorted(points)
        ax.step([c for c, _ in pts], [a for _, a in pts], where="post", marker="o",
                linestyle="-" if staircase else "none",
                markersize=4 if last else 2, alpha=1.0 if last else 0.15 + 0.6 * k / len(fronts),
                color="C0" if last else "C7", label=f"front after generation {generation}"
                if last else None)
    if knee is not None:
        ax.scatter([knee[0]], [knee[1]], s=80, facecolors="none", edgecolors="C3", zorder=3,
                   label="knee")
    if any(points for _, points in fronts):
        ax.set_xscale("log")
    ax.set(xlabel=cost, ylabel="accuracy", title="Pareto front (earlier generations faded)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig
