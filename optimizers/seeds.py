"""Statistics over the seeds of a batch of runs that do not count a failed seed as converged.

The engine stops a seed that diverges and keeps it at its last good point
(``optimizers.engine``): from ``diverged_at`` on, its recorded loss is that
point's, often small. Averaged in, a seed that left the landscape would count
as one that converged. Here a seed counts at a step only while it is still
running (the step comes before its ``diverged_at``).

Under noise a run has a second way to fail: it stops moving without
diverging. Plain L-BFGS does this when its scale γ = sᵀy/yᵀy collapses towards
0 on noisy curvature pairs. A run that converges on a noisy landscape keeps
moving with the noise, so a seed that has moved less than ``FREEZE_DISTANCE``
over its last ``FREEZE_STEPS`` steps has stalled, wherever it is. (On an exact
landscape a run that converged is still as well: there "frozen" only says
that it stopped.)

>>> stats = seed_statistics(run.loss, run.params, run.diverged_at, landscape.minimum_loss)
>>> stats.mean, stats.low, stats.high   # per step, over the seeds still running
>>> stats.diverged.sum(), stats.frozen.sum(), stats.final_excess
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

BAND = (10.0, 90.0)  # percentiles of the band drawn around the mean
FREEZE_STEPS = 10
FREEZE_DISTANCE = 1e-6


class SeedStatistics(NamedTuple):
    """A batch of runs summed up over its seeds (arrays per step have length steps + 1)."""

    running: np.ndarray  # (steps + 1,) int: how many seeds are still running at each step
    mean: np.ndarray  # (steps + 1,) mean excess loss over the running seeds; NaN where none is
    low: np.ndarray  # (steps + 1,) BAND[0] percentile over the running seeds; NaN where none is
    high: np.ndarray  # (steps + 1,) BAND[1] percentile over the running seeds; NaN where none is
    diverged: np.ndarray  # (seeds,) bool
    frozen: np.ndarray  # (seeds,) bool: stopped moving without diverging
    first_divergence: int | None  # the earliest diverged_at, None if no seed diverged
    final_excess: float | None  # mean final excess loss over the seeds that neither diverged nor froze;
    # None when no seed is left to average (every seed diverged or froze)

    @property
    def seeds(self) -> int:
        return len(self.diverged)

    @property
    def converging(self) -> int:
        """How many seeds ``final_excess`` averages."""
        return int(np.sum(~self.diverged & ~self.frozen))


def excess_loss(loss, minimum_loss: float) -> np.ndarray:
    """L − L* where the landscape has a lowest value (rounding below it counts as 0), else L itself."""
    loss = np.asarray(loss, np.float64)
    return np.maximum(loss - minimum_loss, 0.0) if np.isfinite(minimum_loss) else loss


def running_mask(diverged_at: Sequence[int | None], length: int) -> np.ndarray:
    """(seeds, length) bool: seed s is running at step k while k < diverged_at[s].

    The point recorded at ``diverged_at`` and after is the frozen last good one, not a step taken."""
    stop = np.array([length if step is None else step for step in diverged_at])
    return np.arange(length)[None, :] < stop[:, None]


def mean_over_running(values, diverged_at: Sequence[int | None]) -> np.ndarray:
    """The mean over the seeds still running, per step; ``values`` is (seeds, steps + 1, ...).

    NaN where no seed is running."""
    values = np.asarray(values, np.float64)
    running = running_mask(diverged_at, values.shape[1]).reshape(values.shape[:2] + (1,) * (values.ndim - 2))
    count = running.sum(axis=0)
    total = np.where(running, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def frozen_seeds(
    params, diverged_at: Sequence[int | None], steps: int = FREEZE_STEPS, distance: float = FREEZE_DISTANCE
) -> np.ndarray:
    """(seeds,) bool: no diverged_at, and every one of the last ``steps`` points within ``distance`` of the last.

    A run shorter than ``steps`` steps is never called frozen: too short to tell."""
    params = np.asarray(params, np.float64)  # (seeds, steps + 1, n)
    if params.shape[1] <= steps:
        return np.zeros(params.shape[0], bool)
    tail = params[:, -(steps + 1) :]
    moved = np.linalg.norm(tail - tail[:, -1:], axis=-1).max(axis=1)
    alive = np.array([step is None for step in diverged_at])
    return alive & (moved < distance)


def seed_statistics(loss, params, diverged_at: Sequence[int | None], minimum_loss: float = 0.0) -> SeedStatistics:
    """Per step the mean and band of L − L* over the running seeds; the failed seeds counted apart.

    ``loss`` is (seeds, steps + 1), ``params`` (seeds, steps + 1, n), ``diverged_at`` one entry per
    seed (None or the first step that diverged); ``minimum_loss`` is L* (−∞: L itself is averaged)."""
    excess = excess_loss(loss, minimum_loss)
    running = running_mask(diverged_at, excess.shape[1])
    low, high = _percentiles(np.where(running, excess, np.nan), running.sum(axis=0))
    diverged = np.array([step is not None for step in diverged_at])
    frozen = frozen_seeds(params, diverged_at)
    left = ~diverged & ~frozen
    steps = [step for step in diverged_at if step is not None]
    return SeedStatistics(
        running=running.sum(axis=0),
        mean=mean_over_running(excess, diverged_at),
        low=low,
        high=high,
        diverged=diverged,
        frozen=frozen,
        first_divergence=min(steps) if steps else None,
        final_excess=float(excess[left, -1].mean()) if left.any() else None,
    )


def _percentiles(masked: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BAND's percentiles over the non-NaN entries of each column; NaN for a column with none."""
    low, high = np.full(masked.shape[1], np.nan), np.full(masked.shape[1], np.nan)
    some = count > 0
    if some.any():
        # np.nanpercentile along an axis calls Python once per column (20 ms for 300 steps); the columns
        # where every seed runs go to np.percentile at once, which gives the same numbers there.
        block = masked[:, some]
        full = ~np.isnan(block).any(axis=0)
        part_low, part_high = np.empty(block.shape[1]), np.empty(block.shape[1])
        if full.any():
            part_low[full], part_high[full] = np.percentile(block[:, full], BAND, axis=0)
        if not full.all():
            part_low[~full], part_high[~full] = np.nanpercentile(block[:, ~full], BAND, axis=0)
        low[some], high[some] = part_low, part_high
    return low, high
