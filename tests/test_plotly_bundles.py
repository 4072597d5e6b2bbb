"""Which plotly.js a chart loads (``ui.chart.plotly_bundle``, ``plotly_js``): the cartesian bundle
for 2-D figures, the full one for a 3-D trace or when the cartesian file is absent; and the bundle
``scripts/fetch_plotly_cartesian.py`` pins is the pinned plotly package's own version."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import plotly.graph_objects as go

import page_checks
from ui import chart
from ui.chart import CARTESIAN_TRACES, plotly_bundle, plotly_js


def fetcher():
    spec = importlib.util.spec_from_file_location("fetch_plotly_cartesian", chart.STATIC.parent / "scripts" / "fetch_plotly_cartesian.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_d_traces_need_the_cartesian_bundle_and_a_three_d_one_the_full_one():
    z = np.arange(12.0).reshape(3, 4)
    flat = go.Figure([go.Scatter(y=[1, 2]), go.Heatmap(z=z), go.Contour(z=z), go.Bar(y=[1])]).to_dict()
    assert plotly_bundle(flat) == "cartesian"
    assert plotly_bundle({"data": [{"x": [1], "y": [2]}]}) == "cartesian"  # no type: a scatter
    assert plotly_bundle({"data": []}) == "cartesian"
    for deep in (go.Surface(z=z), go.Scatter3d(x=[0], y=[0], z=[0])):
        assert plotly_bundle(go.Figure([go.Scatter(y=[1]), deep]).to_dict()) == "full", deep.type
    assert plotly_bundle({"data": [{"type": "scattergl"}]}) == "full"  # WebGL, not in the cartesian bundle
    assert {"scatter", "heatmap", "contour"} <= CARTESIAN_TRACES and not {"surface", "scatter3d"} & CARTESIAN_TRACES


def test_frames_count_by_the_types_they_name():
    figure = {"data": [{"type": "scatter"}], "frames": [{"data": [{"x": [1]}]}]}  # a frame's trace keeps its type
    assert plotly_bundle(figure) == "cartesian"
    assert plotly_bundle({**figure, "frames": [{"data": [{"type": "scatter3d"}]}]}) == "full"
    assert plotly_bundle(figure, {"frames": [{"traces": [0], "data": [{"type": "surface"}]}]}) == "full"
    assert plotly_bundle(figure, {"frames": [{"traces": [0], "data": [{"x": [1], "y": [2]}]}]}) == "cartesian"


def test_without_the_cartesian_file_every_figure_gets_the_full_bundle(tmp_path, monkeypatch):
    full = chart.publish_plotly_js()  # the full copy put in place under the real static folder
    monkeypatch.setattr(chart, "STATIC", tmp_path)
    assert plotly_js("cartesian") == {"bundle": "full", "src": full}
    assert plotly_js("full") == {"bundle": "full", "src": full}
    (tmp_path / f"plotly-cartesian-{chart.plotly_js_version()}.min.js").write_text("/* plotly.js */")
    assert plotly_js("cartesian") == {"bundle": "cartesian", "src": f"app/static/plotly-cartesian-{chart.plotly_js_version()}.min.js"}
    assert plotly_js("full") == {"bundle": "full", "src": full}


def test_the_pinned_cartesian_bundle_is_the_plotly_js_of_the_pinned_plotly_package():
    fetch = fetcher()
    assert fetch.VERSION == chart.plotly_js_version()
    assert fetch.TARGET == chart.STATIC / f"plotly-cartesian-{chart.plotly_js_version()}.min.js"  # where ui.chart looks
    assert fetch.INTEGRITY.startswith("sha512-") and fetch.integrity(b"") == (
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    )  # the registry's form: base64 of the digest


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    fetch = fetcher()
    monkeypatch.setattr(fetch, "with_npm", lambda: b"not the tarball")
    monkeypatch.setattr(fetch, "with_urllib", lambda: b"not the tarball")
    monkeypatch.setattr(fetch, "TARGET", tmp_path / "plotly-cartesian.min.js")
    monkeypatch.setattr(fetch, "FAILED", tmp_path / ".plotly-cartesian-failed")
    assert fetch.main([]) == 1
    assert not (tmp_path / "plotly-cartesian.min.js").exists()
    assert "integrity" in (tmp_path / ".plotly-cartesian-failed").read_text()


def test_a_failed_fetch_is_not_tried_again_for_a_day_unless_asked(tmp_path, monkeypatch):
    fetch = fetcher()
    tries = []
    monkeypatch.setattr(fetch, "fetch", lambda: tries.append(1) or (_ for _ in ()).throw(OSError("no network")))
    monkeypatch.setattr(fetch, "TARGET", tmp_path / "plotly-cartesian.min.js")
    monkeypatch.setattr(fetch, "FAILED", tmp_path / ".plotly-cartesian-failed")
    assert fetch.main([]) == 1 and len(tries) == 1  # tried, failed, remembered
    assert fetch.main([]) == 1 and len(tries) == 1  # an hour later: not tried
    day_ago = fetch.FAILED.stat().st_mtime - fetch.RETRY_AFTER - 1
    os.utime(fetch.FAILED, (day_ago, day_ago))
    assert fetch.main([]) == 1 and len(tries) == 2  # a day later: tried again
    assert fetch.main(["--retry"]) == 1 and len(tries) == 3  # asked: tried at once


def test_the_explorer_asks_for_the_full_bundle_only_for_its_3d_view():
    at = page_checks.open_page("pages/explorer.py", {"view3d": "true"})
    messages = [json.loads(element.proto.bytes) for element in at.get("bidi_component")]
    bundles = [(m["figure"]["data"][0]["type"], m["plotly"]["bundle"]) for m in messages if "figure" in m]
    cartesian = plotly_js("cartesian")["bundle"]  # "full" where the file is absent
    assert bundles[0] == ("surface", "full")
    assert len(bundles) >= 2 and {bundle for _, bundle in bundles[1:]} == {cartesian}, bundles
