"""The in-place chart's wire format (``ui.chart.encode``) against plotly's own JSON encoder, the script
each chart element carries (a loader of ``chart.js``), and the contour picture's resampling against scipy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import plotly.graph_objects as go
import plotly.io as pio

from page_checks import numbers_in
from ui import chart
from ui.chart import SHORT_ARRAY, encode


def decoded(node):
    """``node`` with every typed array (base64) written out as a list of floats."""
    if isinstance(node, dict):
        if "bdata" in node:
            return list(numbers_in(node))
        return {key: decoded(value) for key, value in node.items()}
    if isinstance(node, list):
        return [decoded(value) for value in node]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else node


def same_as_plotly(message):
    ours = json.loads(encode(message))
    theirs = json.loads(pio.json.to_json_plotly(message))
    np.testing.assert_equal(decoded(ours), decoded(theirs))
    return ours


def test_a_figure_reads_as_plotly_writes_it():
    t = np.linspace(0, 1, 200)
    figure = go.Figure(go.Scatter(x=t.astype(np.float32), y=np.where(t > 0.5, np.nan, t**2), name="path"))
    figure.add_trace(go.Heatmap(z=np.arange(600, dtype=np.int64).reshape(20, 30)))
    figure.update_layout(xaxis=dict(range=np.array([0.0, 1.0])), title="a title")
    ours = same_as_plotly({"figure": figure.to_dict(), "clicks": True})
    scatter = ours["figure"]["data"][0]
    assert scatter["x"]["dtype"] == "f4" and scatter["y"]["dtype"] == "f8"  # binary, NaN kept inside
    assert ours["figure"]["layout"]["xaxis"]["range"] == [0.0, 1.0]  # plotly.js wants a plain list here


def test_short_arrays_go_as_lists_and_numpy_scalars_as_numbers():
    ours = same_as_plotly({"x": np.arange(SHORT_ARRAY - 1, dtype=np.float32), "size": np.float32(2.5), "n": np.int64(3)})
    assert ours["x"] == list(range(SHORT_ARRAY - 1)) and ours["size"] == 2.5 and ours["n"] == 3


def test_a_nan_outside_an_array_becomes_null_as_in_plotly():
    ours = same_as_plotly({"y": [1.0, float("nan"), 3.0], "z": np.array([np.nan, 1.0])})
    assert ours["y"] == [1.0, None, 3.0] and ours["z"] == [None, 1.0]


def test_the_contour_picture_is_upsampled_as_scipy_does_it():
    import scipy.ndimage

    from ui.plots import upsample_bilinear

    z = np.random.default_rng(0).normal(size=(7, 11))
    fine = upsample_bilinear(z, 4)
    reference = scipy.ndimage.zoom(z, (25 / 7, 41 / 11), order=1, grid_mode=False)  # bilinear, corners kept
    np.testing.assert_allclose(fine, reference, atol=1e-12)


def test_each_chart_carries_a_loader_of_chart_js_and_not_chart_js_itself():
    import page_checks

    at = page_checks.open_page("pages/explorer.py")
    scripts = {element.proto.js_content for element in page_checks.chart_elements(at)}
    assert len(scripts) == 1
    loader = scripts.pop()
    assert len(loader) < 1000 < len(chart.JS)  # the loader, on every chart and every rerun
    path = chart.publish_chart_module()
    assert f'"{path}"' in loader and path.startswith("app/static/chart-")
    assert (chart.STATIC / path.rsplit("/", 1)[1]).read_bytes() == (chart.HERE / "chart.js").read_bytes()


@pytest.fixture
def static_folder(monkeypatch, tmp_path):
    """``ui.chart``'s static folder moved to ``tmp_path / "static"``, its published names forgotten."""
    monkeypatch.setattr(chart, "STATIC", tmp_path / "static")
    chart.publish_chart_module.cache_clear()
    yield tmp_path / "static"
    chart.publish_chart_module.cache_clear()


def test_a_changed_chart_js_is_published_under_a_new_name(static_folder, monkeypatch):
    """A tab keeps a module it has imported by its URL: a new chart.js must not be served as the old one."""
    first = chart.publish_chart_module()
    monkeypatch.setattr(chart, "JS", chart.JS + "\n// changed\n")
    chart.publish_chart_module.cache_clear()
    second = chart.publish_chart_module()
    assert first != second
    assert sorted(p.name for p in static_folder.iterdir()) == sorted(path.rsplit("/", 1)[1] for path in (first, second))
    assert (static_folder / second.rsplit("/", 1)[1]).read_text(encoding="utf-8") == chart.JS


def test_without_a_writable_static_folder_each_chart_carries_chart_js_itself(static_folder, monkeypatch):
    blocked = static_folder.parent / "blocked"
    blocked.write_text("a file where the static folder's parent should be")  # no folder can be made there
    monkeypatch.setattr(chart, "STATIC", blocked / "static")
    assert chart.chart_loader() == chart.JS
