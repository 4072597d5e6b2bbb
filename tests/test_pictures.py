"""What the figures draw, checked against what they should show worked out independently: a valley
floor where its equation puts it, a contour line where its level is, the momentum recursion written
out by hand, counts of diverged seeds."""

import base64
import io

import numpy as np
import PIL.Image

from landscapes import get_landscape
from ui import eigenspace_plots, plots
from ui.runs import PICTURE_UPSAMPLE, Grid, RunResult, loss_grid


def momentum_errors(x0: float, eigenvalue: float, learning_rate: float, momentum: float, steps: int) -> np.ndarray:
    """Heavy ball on ½λx², written out: z ← βz + λx, x ← x − αz."""
    x, z, errors = x0, 0.0, [x0]
    for _ in range(steps):
        z = momentum * z + eigenvalue * x
        x = x - learning_rate * z
        errors.append(x)
    return np.array(errors)


def test_an_exact_zero_is_drawn_on_the_floor_and_the_curve_goes_on():
    # The default Eigenspace view, momentum with β = 0.5, α = 1 along λ = 1: the error is exactly 0
    # after one step and then rings on (1.5, 0, 0.75, 0.375, 0.1875, 0.28125, ...).
    errors = momentum_errors(1.5, 1.0, 1.0, 0.5, 40)
    np.testing.assert_allclose(np.abs(errors[:6]), [1.5, 0.0, 0.75, 0.375, 0.1875, 0.28125])
    drawn = eigenspace_plots.clip_log_curve(errors, 1.5)
    assert drawn.size == errors.size
    assert drawn[1] == eigenspace_plots.FLOOR * 1.5
    np.testing.assert_allclose(drawn[2:6], [0.75, 0.375, 0.1875, 0.28125])
    figure = eigenspace_plots.direction_figure(1, 1.0, [("momentum", "#d62728", errors)], [("momentum", errors)]).to_dict()
    assert [len(trace["y"]) for trace in figure["data"]] == [41, 41]  # measured and closed form, every step


def test_a_curve_is_cut_only_where_it_diverges():
    drawn = eigenspace_plots.clip_log_curve([1.0, 10.0, 1e9, 1e10], 1.0)  # past CEILING = 1e8 at step 2
    np.testing.assert_allclose(drawn, [1.0, 10.0])
    assert eigenspace_plots.clip_log_curve([1.0, 0.5, np.nan, 0.1], 1.0).size == 2


def decoded(image: dict) -> np.ndarray:
    """The contour picture of a landscape figure as (rows from the bottom, columns, RGB)."""
    png = base64.b64decode(image["source"].split(",", 1)[1])
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"), int)[::-1]


def landscape_picture(landscape, resolution: int = 121) -> tuple[Grid, np.ndarray]:
    grid = loss_grid(landscape, landscape.bounds, resolution)
    figure = plots.landscape_figure(grid, landscape, [], landscape.default_start[:2]).to_dict()
    return grid, decoded(figure["layout"]["images"][0])


def test_rosenbrocks_valley_floor_is_drawn_as_one_smooth_stripe():
    # Rosenbrock's floor is y = x². Near the minimum its log-scaled contours crowd together across
    # the floor faster than pixels can show; drawn as lines they made a dark streak dotted with
    # whatever band a pixel landed in (neighbours along the floor differed by ~77 in R + G + B).
    landscape = get_landscape("rosenbrock")
    grid, picture = landscape_picture(landscape)
    (x0, x1), (y0, y1) = landscape.bounds
    rows, columns = picture.shape[:2]
    brightness = picture.sum(axis=-1)
    for low, high in [(0.5, 0.9), (1.1, 1.7)]:  # either side of the minimum at (1, 1)
        xs = np.linspace(low, high, 150)
        j = np.round((xs - x0) / (x1 - x0) * (columns - 1)).astype(int)
        i = np.round((xs**2 - y0) / (y1 - y0) * (rows - 1)).astype(int)
        floor = picture[i, j]
        assert np.abs(np.diff(floor, axis=0)).max() <= 6  # no dots: neighbours along the floor look alike
        assert brightness[i, j].min() > brightness.mean()  # no line colour: the floor is the light part


def test_contour_lines_lie_at_their_levels_where_they_can_be_drawn_apart():
    # A ramp from 0 to 1 across 561 pixels in 28 bands: a line every 20 pixels, at columns 20k.
    z = np.tile(np.linspace(0.0, 1.0, 561), (5, 1))
    brightness = plots.contour_pixels(z, 0.0, 1.0)[2].sum(axis=1)
    # A line pixel is much darker than the fill on either side (the fill itself darkens slowly).
    dips = np.flatnonzero(brightness[1:-1] < np.minimum(brightness[:-2], brightness[2:]) - 50) + 1
    np.testing.assert_array_equal(dips, 20 * np.arange(1, 28))


def test_lines_closer_than_a_few_pixels_fade_into_the_fill():
    # 28 bands across 28 pixels: a line in every pixel. None is drawn; the fill is the continuous scale.
    z = np.tile(np.linspace(0.0, 1.0, 28), (5, 1))
    pixels = plots.contour_pixels(z, 0.0, 1.0)
    np.testing.assert_allclose(pixels[2], plots._scale_colors(np.linspace(0.0, 1.0, 28)), atol=1e-9)


def test_the_surface_keeps_a_valley_floor_that_passes_between_grid_points():
    fine = np.ones((9, 9))
    fine[2, :] = 0.0  # a floor on a fine row between coarse rows 0 and 4 (factor 4)
    coarse = plots.lowest_nearby(fine, 4)
    assert coarse.shape == (3, 3)
    np.testing.assert_array_equal(coarse, [[0, 0, 0], [0, 0, 0], [1, 1, 1]])  # rows 0 and 4 reach row 2
    rng = np.random.default_rng(1)
    fine = rng.normal(size=(13, 17))
    expected = [[fine[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3].min() for c in range(0, 17, 4)] for r in range(0, 13, 4)]
    np.testing.assert_array_equal(plots.lowest_nearby(fine, 4), expected)


def test_a_grid_carries_the_loss_at_every_pixel_of_its_picture():
    landscape = get_landscape("quadratic", condition_number=10.0)
    grid = loss_grid(landscape, ((-1.0, 1.0), (-2.0, 2.0)), 11)
    assert grid.fine.shape == (10 * PICTURE_UPSAMPLE + 1,) * 2
    np.testing.assert_array_equal(grid.fine[::PICTURE_UPSAMPLE, ::PICTURE_UPSAMPLE], grid.loss)
    np.testing.assert_allclose(grid.xs, np.linspace(-1, 1, 11), atol=1e-6)
    np.testing.assert_allclose(grid.ys, np.linspace(-2, 2, 11), atol=1e-6)
    x, y = 0.3, -1.2  # a pixel's value is the loss there
    i, j = round((y + 2) / 4 * 40), round((x + 1) / 2 * 40)
    assert abs(grid.fine[i, j] - float(landscape.loss(np.array([x, y], np.float32)))) < 1e-5


def test_log_axes_are_labelled_at_powers_of_ten_only():
    assert plots.decade_ticks([2e-3, 5.0]) == dict(dtick=1, tick0=0, exponentformat="power")  # 10⁻³ … 10¹
    assert plots.decade_ticks([1e-16, 1.5])["dtick"] == 3  # 17 decades in labels 3 apart
    assert "dtick" not in plots.decade_ticks([0.0, np.nan])
    figure = plots.loss_curve_figure([plots.LossCurve("a", np.array([1.0, 0.1, 0.01]))]).to_dict()
    assert figure["layout"]["yaxis"]["dtick"] == 1


def test_views_widen_in_steps_until_they_hold_the_paths():
    bounds = ((-1.0, 1.0), (0.0, 2.0))
    assert plots.widened(bounds, 2.0) == ((-2.0, 2.0), (-1.0, 3.0))
    assert plots.covering_scale(bounds, [np.array([[0.5, 1.5]])]) == 1.0
    assert plots.covering_scale(bounds, [np.array([[1.5, 1.0]])]) == 2.0  # 1.5 > 0.94·1.5, within 0.94·2
    assert plots.covering_scale(bounds, [np.array([[90.0, 1.0], [np.nan, np.nan]])]) == plots.VIEW_SCALES[-1]


def seeds_run(diverged_at: list, steps: int = 20) -> RunResult:
    """Seeds moving along x from (−1, 0), those in ``diverged_at`` held from that step on; loss 1/(k + 1)."""
    seeds = len(diverged_at)
    k = np.arange(steps + 1, dtype=np.float32)
    params = np.zeros((seeds, steps + 1, 2), np.float32)
    params[..., 0] = -1.0 + 0.05 * k
    loss = np.tile(1.0 / (k + 1), (seeds, 1))
    for seed, step in enumerate(diverged_at):
        if step is not None:
            params[seed, step:] = params[seed, step - 1]
            loss[seed, step:] = 1e-9  # the held point's loss, small: it must not count as converged
    return RunResult(params, loss.astype(np.float32), np.zeros_like(params), tuple(diverged_at))


def test_diverged_seeds_get_one_label_with_their_count():
    landscape = get_landscape("quadratic")
    run = plots.Drawn("GD", "#1f77b4", seeds_run([None, 12, None, 5, 9, None]))
    figure = plots.landscape_figure(loss_grid(landscape, landscape.bounds, 21), landscape, [run], (-1.0, 0.0)).to_dict()
    labels = [note["text"] for note in figure["layout"]["annotations"]]
    assert labels == ["3 of 6 seeds diverged, first at step 5"]
    crosses = [t for t in figure["data"] if t.get("marker", {}).get("symbol") == "x"]
    assert len(crosses) == 1 and sorted(crosses[0]["customdata"]) == [5, 9, 12]
    # each at its seed's last point before it diverged: x = −1 + 0.05·(step − 1)
    np.testing.assert_allclose(np.sort(crosses[0]["x"]), [-1 + 0.05 * 4, -1 + 0.05 * 8, -1 + 0.05 * 11], atol=1e-6)


def test_the_loss_curve_averages_the_seeds_still_running():
    landscape = get_landscape("quadratic")
    run = seeds_run([None, 10])
    (curve,) = plots.run_loss_curves([plots.Drawn("GD", "#1f77b4", run)], landscape)
    np.testing.assert_allclose(curve.y[10:], 1.0 / (np.arange(10, 21) + 1), rtol=1e-6)  # seed 0 alone
    assert curve.marker_at == 9 and curve.marker_text == "1 of 2 seeds diverged, first at step 10"
    np.testing.assert_array_equal(curve.running[[0, 9, 10, 20]], [2, 2, 1, 1])
    figure = plots.loss_curve_figure([curve]).to_dict()
    line = next(t for t in figure["data"] if t.get("name") == "GD")
    assert "of 2 seeds running" in line["hovertemplate"]
    assert [note["text"] for note in figure["layout"]["annotations"]] == [curve.marker_text]
