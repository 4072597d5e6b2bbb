// The browser side of ui/chart.py (a Streamlit components v2 element).
//
// Each call gets the figure as UTF-8 JSON bytes. The first draw makes the div;
// later ones reuse it. A click sends the clicked point back as the "click" trigger,
// and the chart follows its column's width.
// A figure with a playback gets a ▶ button and a step slider under it, which show
// the frames with Plotly.animate (markers and arrows only, no full redraw); the
// step shown is kept when a new figure arrives.
// A figure with scrub controls (ui/plots.py, scrub_layer) gets one range input per run
// under that: dragging it shows the run's precomputed path, playback frames and
// divergence mark for each swept value, and moves the run's lines in every other chart
// that has targets for it (its loss curve, its point on the sensitivity chart), all in
// the browser; only letting go sends the value to Python (the "scrub" trigger). Pressing on
// a chart with drag_scrubs (the sensitivity chart) and dragging sideways moves the scrub
// control of the run whose line is nearest. Dragging a run's own slider in the sidebar previews the
// same way: the chart follows the slider at once, and the page's rerun on letting go draws the same.
// A chart with a pick (the Eigenspace page's momentum rate map) is a control too: pressing
// and dragging moves its point over a grid of runs computed ahead, and every chart that
// follows that grid redraws (its measured line and its closed form); letting go sends the
// point (the "pick" trigger).

// One plotly.js per tab (ui/chart.py, plotly_js): plotly.js's cartesian bundle while every figure
// is 2-D, the full one from the first figure that needs it (a 3-D trace) on, for every chart; once
// the full bundle is loaded the cartesian one never is. The full bundle replaces window.Plotly, and
// the charts the cartesian one drew are drawn again with it: a plotly.js keeps its own state and
// events on the charts it drew. Kept on window, as this module may be evaluated again in the tab.
function loadPlotly({ bundle, src }) {
  const tab = (window.appPlotly ??= window.Plotly ? { bundle: "full", loaded: Promise.resolve(window.Plotly) } : {});
  if (tab.loaded && (tab.bundle === "full" || bundle !== "full")) return tab.loaded;
  const earlier = tab.loaded; // the cartesian bundle, loaded or on its way
  const loading = (earlier ? earlier.catch(() => null) : Promise.resolve(null)).then((cartesian) => new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL(src, document.baseURI).href;
    script.onload = () => {
      if (cartesian) redrawWithout(cartesian);
      resolve(window.Plotly);
    };
    script.onerror = () => {
      if (tab.loaded === loading) Object.assign(tab, cartesian ? { bundle: "cartesian", loaded: earlier } : { bundle: undefined, loaded: undefined });
      reject(new Error(`plotly.js did not load from ${src} (is server.enableStaticServing on?)`));
    };
    document.head.appendChild(script);
  }));
  Object.assign(tab, { bundle, loaded: loading });
  return loading;
}

// Every chart the cartesian bundle drew, drawn again from its latest figure with the plotly.js that replaced it.
function redrawWithout(cartesian) {
  for (const plot of document.querySelectorAll(".app-chart")) {
    if (!plot._fullLayout || !plot.drawAgain) continue;
    if (plot.player) plot.player.pause();
    cartesian.purge(plot);
    plot.drawnShape = null; // drawn afresh
    if (plot.onScreen === false) plot.waiting = plot.drawAgain; // drawn once back in view
    else plot.drawAgain();
  }
}

function child(parent, className, tag = "div") {
  let element = parent.querySelector(":scope > ." + className);
  if (!element) {
    element = document.createElement(tag);
    element.className = className;
    parent.appendChild(element);
  }
  return element;
}

class Player {
  constructor(bar, plot) {
    this.plot = plot;
    this.button = child(bar, "app-play", "button");
    this.button.type = "button";
    this.slider = child(bar, "app-step-slider", "input");
    Object.assign(this.slider, { type: "range", min: 0, step: 1, value: 0 });
    this.slider.setAttribute("aria-label", "step");
    this.label = child(bar, "app-step", "span");
    this.index = 0;
    this.button.onclick = () => (this.timer ? this.pause() : this.play());
    this.slider.oninput = () => { this.pause(); this.show(Number(this.slider.value)); };
  }
  load(playback) {
    this.pause();
    this.playback = playback;
    this.slider.max = playback.frames.length - 1;
    this.mark(Math.min(this.index, playback.frames.length - 1));
  }
  mark(index) {
    this.index = index;
    this.slider.value = index;
    this.label.textContent = "step " + this.playback.steps[index];
  }
  show(index) {
    this.mark(index);
    return Plotly.animate(this.plot, [this.playback.frames[index]], {
      mode: "immediate", frame: { duration: 0, redraw: false }, transition: { duration: 0 },
    });
  }
  play() {
    const last = this.playback.frames.length - 1;
    if (this.index >= last) this.show(0);
    this.button.textContent = "❚❚ pause";
    this.timer = setInterval(() => (this.index < last ? this.show(this.index + 1) : this.pause()), this.playback.frame_ms);
  }
  pause() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.button.textContent = "▶ play";
  }
}

const charts = new Map(); // chart name → its plot, so that one chart's scrub controls move the others
const scrubRows = new Map(); // run colour → its scrub control ({ scrubber, row }), for drag_scrubs
const EMPTY = { x: [null], y: [null] }; // a trace with no point at all would be hidden, and a chart of several
// panels then loses the traces of a panel that a Plotly.animate does not touch
const STILL = { mode: "immediate", frame: { duration: 0, redraw: false }, transition: { duration: 0 } };
const TYPED = { f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array };

function bytes(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
}

// A plotly typed array ({dtype, bdata}) as an array; anything else as it is.
function plain(value) {
  return value && typeof value === "object" && "bdata" in value ? new TYPED[value.dtype](bytes(value.bdata)) : value;
}

// plots.quantized: int16 levels between lo and hi, −32768 for NaN.
function dequantized(q) {
  const levels = new Int16Array(bytes(q.b64));
  const out = new Float32Array(levels.length);
  const scale = (q.hi - q.lo) / 65534;
  for (let i = 0; i < levels.length; i++) out[i] = levels[i] === -32768 ? NaN : q.lo + (levels[i] + 32767) * scale;
  out.shape = q.shape;
  return out;
}

// The x and y of points ``count`` points of a (..., 2) array from point ``start`` on; ``map`` for y.
function points(array, start, count, map = (v) => v) {
  const x = new Array(count), y = new Array(count);
  for (let i = 0; i < count; i++) {
    x[i] = array[2 * (start + i)];
    y[i] = map(array[2 * (start + i) + 1]);
  }
  return { x, y };
}

function original(figure, index) {
  const trace = figure.data[index];
  return { x: plain(trace.x), y: plain(trace.y) };
}

// Sets the annotations' attributes that differ from what is shown (a relayout redraws the whole
// chart), each attribute by itself: a whole object at "annotations[i]" would insert a new one.
function relayoutChanged(plot, changes) {
  const shown = plot.layout.annotations || [];
  const needed = {};
  for (const [index, annotation] of Object.entries(changes)) {
    const now = shown[index] || {};
    for (const [key, value] of Object.entries(annotation)) {
      if (JSON.stringify(now[key]) !== JSON.stringify(value)) needed[`annotations[${index}].${key}`] = value;
    }
  }
  return Object.keys(needed).length ? Plotly.relayout(plot, needed) : Promise.resolve();
}

// Calls draw(...args) with the latest arguments only: a draw asked for while one is under way waits
// for it, and of those asked for meanwhile only the last is drawn (a fast drag skips values, never lags).
class Latest {
  constructor(draw) {
    this.draw = draw;
  }
  ask(...args) {
    this.args = args;
    if (!this.busy) this.next();
  }
  next() {
    const args = this.args;
    this.args = null;
    this.busy = Promise.resolve(this.draw(...args)).catch(() => {}).finally(() => {
      this.busy = null;
      if (this.args) this.next();
    });
  }
}

// The other charts follow a scrub once the scrubbed chart is drawn, and only while on screen: one
// scrolled out of view catches up when it comes back, or when the control is let go.
function followScrub(run, k, d, all = false) {
  for (const other of charts.values()) {
    if (!other.isConnected || !other.follow) continue;
    other.pendingScrub = [run, k, d];
    if (all || other.onScreen !== false) catchUp(other);
  }
}

function catchUp(plot) {
  if (!plot.pendingScrub || plot.waiting) return; // the figure waiting is drawn once back in view
  plot.following ??= new Latest((run, k, d) => plot.follow(run, k, d));
  plot.following.ask(...plot.pendingScrub);
  plot.pendingScrub = null;
}

// Whether each chart is on screen. One that comes back into view draws the figure it was sent
// meanwhile (drawChart), or else catches up with a scrub.
function watchScreen(plot) {
  if (plot.screenWatch) return;
  plot.screenWatch = new IntersectionObserver((entries) => {
    plot.onScreen = entries[entries.length - 1].isIntersecting;
    if (!plot.onScreen) return;
    const waiting = plot.waiting;
    plot.waiting = null;
    if (waiting) {
      plot.pendingScrub = null; // a scrub shown meanwhile belongs to the figure before
      waiting();
    } else {
      catchUp(plot);
    }
  });
  plot.screenWatch.observe(plot);
}

class Scrubber {
  constructor(box, plot) {
    this.box = box;
    this.plot = plot;
    this.rows = new Map();
  }
  load(scrub, figure) {
    const slots = scrub.runs.map((run) => run.slot).join();
    if (slots !== this.slots) {
      this.box.replaceChildren();
      this.rows.clear();
      this.slots = slots;
    }
    for (const run of scrub.runs) {
      const row = this.rows.get(run.slot) || this.row(run);
      row.run = run;
      row.input.max = run.values.length - 1;
      row.input.value = run.index;
      row.input.setAttribute("aria-label", `scrub ${run.title} of Run ${run.slot}`);
      row.name.textContent = `Run ${run.slot} · ${run.title}`;
      row.value.textContent = run.texts[run.index];
      row.dot.style.color = run.color;
      scrubRows.set(run.color, { scrubber: this, row });
      run.shown = run.index;
      run.original = {};
      for (const role of ["path", "cloud", "cross"]) {
        if (run.traces[role] !== undefined) run.original[run.traces[role]] = original(figure, run.traces[role]);
      }
    }
  }
  row(run) {
    const row = { element: document.createElement("label") };
    row.element.className = "app-scrub-run";
    row.dot = child(row.element, "app-scrub-dot", "span");
    row.dot.textContent = "●";
    row.name = child(row.element, "app-scrub-name", "span");
    row.input = child(row.element, "app-scrub-slider", "input");
    Object.assign(row.input, { type: "range", min: 0, step: 1 });
    row.value = child(row.element, "app-scrub-value", "span");
    row.input.oninput = () => this.show(row.run, Number(row.input.value), row);
    row.input.onchange = () => this.letGo(row);
    this.box.appendChild(row.element);
    this.rows.set(run.slot, row);
    return row;
  }
  // The run's own slider in the sidebar (a Streamlit select_slider, widget key ``run.slider``), held
  // down (Streamlit reruns the page only once it is let go): the chart shows the precomputed run for
  // the value it shows (its aria-valuetext, written as ``run.texts``), as a scrub does; for a value
  // between the swept ones, the nearest swept one, which the scrub control names. A key press on it
  // reruns the page at once, and drawing a preview meanwhile would only delay that rerun's figure.
  // The slider is found when it is pressed (followHeldSlider), not when the chart is drawn: the
  // sidebar's widgets may be drawn after the chart, and redrawn by Streamlit.
  followSlider(row, input) {
    const watch = new MutationObserver(() => this.preview(row, input));
    watch.observe(input, { attributes: true, attributeFilter: ["aria-valuetext"] });
    const letGo = () => {
      watch.disconnect();
      window.removeEventListener("pointerup", letGo, true);
      window.removeEventListener("pointercancel", letGo, true);
    };
    window.addEventListener("pointerup", letGo, true);
    window.addEventListener("pointercancel", letGo, true);
  }
  preview(row, input) {
    const text = input.getAttribute("aria-valuetext") || "", run = row.run, value = Number(text.replace("−", "-"));
    let k = run.texts.indexOf(text);
    if (k < 0 && Number.isFinite(value)) {
      const apart = (v) => (v > 0 && value > 0 ? Math.abs(Math.log(v / value)) : Math.abs(v - value));
      k = nearestIndex(run.values.length, (i) => apart(run.values[i]));
    }
    if (k < 0 || k === Number(row.input.value)) return;
    row.input.value = k;
    this.show(run, k, row);
  }
  // A scrub control let go: every chart catches up, and the value is sent unless it is the run's own.
  letGo(row) {
    const run = row.run, k = Number(row.input.value);
    if (this.decoded(run)) followScrub(run, k, this.decoded(run), true);
    if (this.plot.sendScrub && k !== run.index) this.plot.sendScrub("scrub", { slot: run.slot, name: run.name, value: run.values[k], index: k });
  }
  // The run's sweep (ui/chart.py, sweep_data), decoded once; null before it has arrived.
  decoded(run) {
    const sweep = window.appSweeps && window.appSweeps.get(run.sweep);
    if (!sweep) return null;
    sweep.decoded ??= {
      ...Object.fromEntries(["path", "here", "update", "descent", "loss"].map((name) => [name, dequantized(sweep[name])])),
      steps: sweep.steps, marks: sweep.marks,
    };
    return sweep.decoded;
  }
  show(run, k, row) {
    run.shown = k;
    row.value.textContent = run.texts[k];
    this.drawing ??= new Latest((run, k) => this.draw(run, k));
    this.drawing.ask(run, k);
  }
  draw(run, k) {
    const d = this.decoded(run), t = run.traces, current = k === run.index;
    if (!d) return;
    // Out of view with a newer figure waiting (drawChart): that figure is drawn once back in view;
    // the other charts follow meanwhile.
    if (this.plot.waiting) return followScrub(run, k, d);
    const traces = [], data = [];
    const put = (index, trace) => {
      if (index !== undefined && index !== null) {
        traces.push(index);
        data.push(trace);
      }
    };
    const length = d.path.shape[1];
    put(t.path, current ? run.original[t.path] : points(d.path, k * length, length));
    put(t.cloud, current ? run.original[t.cloud] : EMPTY);
    put(t.cross, current ? run.original[t.cross] : EMPTY);
    const mark = current ? null : d.marks[k];
    put(run.cross, mark ? { x: mark.x, y: mark.y } : EMPTY);
    const player = this.plot.player;
    if (player && player.playback && t.here !== undefined) {
      this.reframe(run, k, player.playback.frames);
      const frame = player.playback.frames[player.index];
      for (const role of ["here", "update", "descent"]) put(t[role], frame.data[frame.traces.indexOf(t[role])]);
    }
    const drawn = Plotly.animate(this.plot, [{ data, traces }], STILL);
    const labels = {};
    if (run.annotation !== null) labels[run.annotation] = { visible: current };
    labels[run.scrubbed_annotation] = mark ? { ...mark.annotation, visible: true } : { visible: false };
    return Promise.all([drawn, relayoutChanged(this.plot, labels)]).then(() => followScrub(run, k, d));
  }
  // The playback's frames of ``run`` at value k (its own frames at the current value).
  reframe(run, k, frames) {
    const t = run.traces;
    run.originalFrames ??= frames.map((frame) => ["here", "update", "descent"].map((role) => frame.data[frame.traces.indexOf(t[role])]));
    const [, count, seeds] = this.decoded(run).here.shape;
    const { here, update, descent } = this.decoded(run);
    frames.forEach((frame, f) => {
      const at = ["here", "update", "descent"].map((role) => frame.traces.indexOf(t[role]));
      if (k === run.index) {
        at.forEach((position, i) => (frame.data[position] = run.originalFrames[f][i]));
        return;
      }
      const seedsHere = points(here, (k * count + f) * seeds, seeds);
      const origin = [seedsHere.x[0], seedsHere.y[0]];
      const arrow = (end) => ({ type: "scatter", x: [origin[0], end[2 * (k * count + f)]], y: [origin[1], end[2 * (k * count + f) + 1]] });
      frame.data[at[0]] = { type: "scatter", ...seedsHere };
      frame.data[at[1]] = arrow(update);
      frame.data[at[2]] = arrow(descent);
    });
  }
}

// The pointer's place in a chart's plot area (pixels from its top left corner) with the axes there;
// null outside it, or held at its edge with ``clamp``.
function plotArea(plot, event, clamp = false, xName = "xaxis", yName = "yaxis") {
  const layout = plot._fullLayout, xa = layout && layout[xName], ya = layout && layout[yName];
  if (!xa || !ya) return null;
  const box = plot.getBoundingClientRect();
  let px = event.clientX - box.left - xa._offset, py = event.clientY - box.top - ya._offset;
  const inside = px >= 0 && px <= xa._length && py >= 0 && py <= ya._length;
  if (!inside && !clamp) return null;
  px = Math.min(Math.max(px, 0), xa._length);
  py = Math.min(Math.max(py, 0), ya._length);
  return { px, py, xa, ya };
}

// A press on a run's own slider in the sidebar (Scrubber.followSlider): one listener per tab, which
// calls the latest evaluation's function (this module may be evaluated again in the tab).
function followHeldSlider(event) {
  for (const { scrubber, row } of scrubRows.values()) {
    const key = row.run.slider;
    const box = key && event.target.closest?.(`.st-key-${key.replace(/[^a-zA-Z0-9_-]/g, "-")}`);
    const input = box && box.querySelector("input[type='range']");
    if (input) return scrubber.followSlider(row, input);
  }
}
if (!window.appFollowHeldSlider) document.addEventListener("pointerdown", (event) => window.appFollowHeldSlider(event), true);
window.appFollowHeldSlider = followHeldSlider;

function nearestIndex(count, distance) {
  let best = 0;
  for (let k = 1; k < count; k++) if (distance(k) < distance(best)) best = k;
  return best;
}

// Calls press(event) on a press of the main button (or a first finger) inside the plot area, then
// move(event) while that pointer moves, captured (it may leave the chart), and release() once when it
// is let go, cancelled or loses the capture. A second finger is ignored. On a touch screen only the
// plot area is a control; the rest of the chart still scrolls the page. A finger pressed there does not
// scroll it: its touchstart, which follows the pointerdown, is cancelled (CSS touch-action, which the
// browser reads at that moment, is not honoured on the SVG plot area, and the page's pan would cancel the drag).
function onDrag(plot, press, move, release) {
  plot.addEventListener("touchstart", (event) => {
    if (plot.dragging && event.touches.length === 1) event.preventDefault();
  }, { capture: true, passive: false });
  plot.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !event.isPrimary || plot.dragging || !press(event)) return;
    event.preventDefault();
    event.stopPropagation(); // plotly's own drag (zoom) does not start
    const id = event.pointerId;
    const moved = (e) => e.pointerId === id && move(e);
    const done = (e) => {
      if (e.pointerId !== id || !plot.dragging) return;
      plot.dragging = false;
      for (const [type, listener] of listeners) plot.removeEventListener(type, listener);
      release();
    };
    const listeners = [["pointermove", moved], ["pointerup", done], ["pointercancel", done], ["lostpointercapture", done]];
    for (const [type, listener] of listeners) plot.addEventListener(type, listener);
    plot.dragging = true;
    plot.setPointerCapture(id);
  }, true);
}

// drag_scrubs: the press picks the run with a point nearest the pointer (in either panel of the
// sensitivity chart); moving sets that run's scrub control to the swept value nearest the pointer.
function dragScrubs(plot) {
  let held = null;
  const panels = [["xaxis", "yaxis", "final"], ["xaxis2", "yaxis2", "reached"]];
  const heights = (target, run, role) => run.values.map((_, k) => {
    if (role === "reached") return target.reached_values ? target.reached_values[k] : null;
    return finalHeight(target, run, k);
  });
  const scrubTo = (event) => {
    const at = plotArea(plot, event, true);
    if (!at) return; // the chart was redrawn without its axes meanwhile
    const { row } = held, values = row.run.values;
    const k = nearestIndex(values.length, (i) => Math.abs(at.xa.c2p(values[i]) - at.px));
    if (Number(row.input.value) === k) return;
    row.input.value = k;
    held.scrubber.show(row.run, k, row);
  };
  onDrag(plot, (event) => {
    let best = null;
    for (const [xName, yName, role] of panels) {
      const at = plotArea(plot, event, false, xName, yName);
      if (!at) continue;
      for (const [color, target] of Object.entries(plot.targets || {})) {
        const control = scrubRows.get(color);
        if (!control || !control.row.element.isConnected) continue;
        const run = control.row.run, ys = heights(target, run, role);
        run.values.forEach((value, k) => {
          if (ys[k] === null || ys[k] === undefined) return;
          const distance = Math.hypot(at.xa.c2p(value) - at.px, at.ya.c2p(ys[k]) - at.py);
          if (!best || distance < best.distance) best = { distance, control };
        });
      }
    }
    if (!best) return false;
    held = best.control;
    scrubTo(event);
    return true;
  }, (event) => held && scrubTo(event), () => {
    if (held) held.scrubber.letGo(held.row);
    held = null;
  });
}

// Where the sensitivity chart draws run value k's final loss (a follower's ``final`` trace): at the
// chart's ceiling where it diverged, floored at 1e-12 on a log axis; null where there is none.
function finalHeight(target, run, k) {
  if (run.diverged[k]) return target.ceiling;
  const final = run.final[k];
  return final === null || !run.log_loss ? final : Math.max(final, 1e-12);
}

// Heavy-ball momentum along one eigen-direction from z⁰ = 0: zᵏ⁺¹ = βzᵏ + λxᵏ, xᵏ⁺¹ = xᵏ − αzᵏ⁺¹ (the
// powers of R in optimizers/theory.py); |xᵏ| at every step 0…last as direction_figure draws it: held
// at ``floor`` from below, cut from the first step past ``ceiling`` (or not finite) on.
function momentumCurve(lam, x0, alpha, beta, last, floor, ceiling) {
  const out = { x: [], y: [] };
  let x = x0, z = 0;
  for (let k = 0; k <= last; k++) {
    if (!(Math.abs(x) <= ceiling)) break;
    out.x.push(k);
    out.y.push(Math.max(Math.abs(x), floor));
    z = beta * z + lam * x;
    x = x - alpha * z;
  }
  return out;
}

// The grid of runs a pick chart goes over (ui/chart.py, sweep_data), decoded once; null before it has arrived.
function pickGrid(name) {
  const grid = window.appSweeps && window.appSweeps.get(name);
  if (grid) grid.decoded ??= dequantized(grid.curves);
  return grid || null;
}

// A chart with ``follows``: node (i, j) of the grid, its measured line and its closed form. The
// y axis widens (never narrows) to what is drawn; the rerun after letting go sets it afresh.
function followPick(plot, grid, i, j) {
  const f = plot.pickFollow, steps = grid.steps, count = steps.length;
  const depth = grid.eigenvalues.length, d = f.direction, base = (i * grid.betas.length + j) * count;
  const measured = { x: [], y: [] };
  for (let t = 0; t < count; t++) {
    const v = grid.decoded[(base + t) * depth + d];
    if (Number.isNaN(v)) break;
    measured.x.push(steps[t]);
    measured.y.push(10 ** v);
  }
  const scale = grid.scales[d];
  const closed = momentumCurve(grid.eigenvalues[d], grid.start[d], grid.alphas[i], grid.betas[j], steps[count - 1],
    grid.floor * scale, grid.ceiling * scale);
  return Plotly.animate(plot, [{ data: [measured, closed], traces: [f.measured, f.closed] }], STILL).then(() => {
    const ya = plot._fullLayout.yaxis, shown = measured.y.concat(closed.y).filter((v) => v > 0);
    if (!shown.length || ya.type !== "log") return null;
    const low = Math.log10(Math.min(...shown)), high = Math.log10(Math.max(...shown));
    const [bottom, top] = ya.range;
    return low < bottom || high > top ? Plotly.relayout(plot, { "yaxis.range": [Math.min(low, bottom), Math.max(high, top)] }) : null;
  });
}

function formatted(value) {
  return Number(value.toPrecision(4)).toString();
}

// ``pick``: a ring over the chart follows the pointer over the grid's nodes, and the charts that
// follow the grid redraw; letting go sends the node, unless it is the current setting (pick.current).
class Picker {
  constructor(plot) {
    this.plot = plot;
    this.readout = child(plot.parentElement, "app-pick-readout");
    this.readout.setAttribute("aria-live", "polite");
    // The node shown is a ring over the plot, not a trace: a Plotly.animate of a trace above a
    // heatmap erases the heatmap, and a restyle redraws it (the current setting stays marked).
    this.ring = child(plot.parentElement, "app-pick-ring", "span");
    this.ring.hidden = true;
    this.drawing = new Latest((i, j) => this.draw(i, j));
    const moveTo = (event) => {
      const grid = pickGrid(this.pick.grid), at = plotArea(plot, event, true);
      if (!grid || !at) return; // the chart was redrawn meanwhile (a rerun), its grid not yet here
      const i = nearestIndex(grid.alphas.length, (k) => Math.abs(at.xa.c2p(grid.alphas[k]) - at.px));
      const j = nearestIndex(grid.betas.length, (k) => Math.abs(at.ya.c2p(grid.betas[k]) - at.py));
      if (this.node && this.node[0] === i && this.node[1] === j) return;
      this.node = [i, j];
      this.readout.textContent = `(α, β) = (${formatted(grid.alphas[i])}, ${formatted(grid.betas[j])}), rate ${grid.rates[i][j].toFixed(4)}: let go to set it`;
      this.drawing.ask(i, j);
    };
    onDrag(plot, (event) => {
      if (!this.pick || !pickGrid(this.pick.grid) || !plotArea(plot, event)) return false;
      this.node = null;
      moveTo(event);
      return true;
    }, moveTo, () => {
      const grid = pickGrid(this.pick.grid);
      if (!this.node || !grid) return;
      const [i, j] = this.node, [alpha, beta] = this.pick.current;
      if (grid.alphas[i] === alpha && grid.betas[j] === beta) return this.restore(); // nothing to set
      if (plot.sendPick) plot.sendPick("pick", { alpha: grid.alphas[i], beta: grid.betas[j] });
    });
  }
  load(pick) {
    this.pick = pick;
    this.node = null;
    this.readout.textContent = "";
    this.ring.hidden = true;
  }
  draw(i, j) {
    const grid = pickGrid(this.pick.grid), layout = this.plot._fullLayout;
    Object.assign(this.ring.style, {
      left: `${this.plot.offsetLeft + layout.xaxis._offset + layout.xaxis.c2p(grid.alphas[i])}px`,
      top: `${this.plot.offsetTop + layout.yaxis._offset + layout.yaxis.c2p(grid.betas[j])}px`,
    });
    this.ring.hidden = false;
    return Promise.all(this.followers().map((other) => followPick(other, grid, i, j)));
  }
  // The charts that follow this grid, on screen and showing their latest figure (one out of view
  // keeps its own lines: letting go reruns the page, and a node let go at that is current changes nothing).
  followers() {
    return [...charts.values()].filter((other) => other.isConnected && other.pickFollow &&
      other.pickFollow.grid === this.pick.grid && other.onScreen !== false && !other.waiting);
  }
  // Let go at the current setting: the ring goes, and the followers draw their own lines again.
  restore() {
    this.node = null;
    this.readout.textContent = "";
    this.ring.hidden = true;
    return Promise.all(this.followers().map((other) => {
      const f = other.pickFollow;
      return Plotly.animate(other, [{ data: [f.originals.measured, f.originals.closed], traces: [f.measured, f.closed] }], STILL);
    }));
  }
}

// How a chart with ``targets`` (per run colour) follows another chart's scrub control.
function follower(plot, message) {
  const targets = message.targets;
  const originals = {};
  for (const target of Object.values(targets)) {
    for (const index of [target.line, ...(target.clear || [])]) {
      if (index !== undefined) originals[index] = original(message.figure, index);
    }
  }
  return (run, k, d) => {
    const target = targets[run.color];
    if (!target) return;
    const current = k === run.index, traces = [], data = [];
    if (target.line !== undefined) {
      const length = d.loss.shape[1];
      const loss = Array.from(d.loss.subarray(k * length, (k + 1) * length), (v) => (run.log_loss ? 10 ** v : v));
      traces.push(target.line);
      data.push(current ? originals[target.line] : { x: d.steps, y: loss });
      for (const index of target.clear) {
        traces.push(index);
        data.push(current ? originals[index] : EMPTY);
      }
    }
    if (target.final !== undefined) {
      traces.push(target.final);
      const y = finalHeight(target, run, k);
      data.push(current || y === null ? EMPTY : { x: [run.values[k]], y: [y] });
    }
    if (target.reached !== undefined) {
      traces.push(target.reached);
      const y = target.reached_values[k];
      data.push(current || y === null ? EMPTY : { x: [run.values[k]], y: [y] });
    }
    const drawn = traces.length ? Plotly.animate(plot, [{ data, traces }], STILL) : null;
    const notes = target.annotations && target.annotations.length
      ? relayoutChanged(plot, Object.fromEntries(target.annotations.map((i) => [i, { visible: current }])))
      : null;
    return Promise.all([drawn, notes]);
  };
}

export default function drawChart({ data, parentElement, setTriggerValue }) {
  const message = JSON.parse(new TextDecoder().decode(data));
  if (message.preload) { // ui/chart.py's preload_plotly: no chart, only plotly.js on its way
    (parentElement.closest("[data-testid='stElementContainer']") || parentElement).style.display = "none";
    loadPlotly(message.preload).catch(() => null); // a chart that needs it reports the failure
    return;
  }
  const plot = child(parentElement, "app-chart");
  plot.drawAgain = () => draw(plot, message, parentElement); // after the full plotly.js replaced the cartesian one
  plot.sendClick = message.clicks ? setTriggerValue : null;
  plot.sendScrub = message.scrub_reports ? setTriggerValue : null;
  plot.sendPick = message.pick_reports ? setTriggerValue : null;
  // What the other charts read of this one (its scrub controls, its targets, the grid it follows)
  // is the new figure's at once, drawn or not.
  const scrubs = child(parentElement, "app-scrub");
  scrubs.hidden = !message.scrub;
  if (message.scrub) {
    plot.scrubber ??= new Scrubber(scrubs, plot);
    plot.scrubber.load(message.scrub, message.figure);
  }
  if (message.name) charts.set(message.name, plot);
  plot.targets = message.targets;
  plot.follow = message.targets ? follower(plot, message) : null;
  plot.pickFollow = message.follows && {
    ...message.follows,
    originals: { measured: original(message.figure, message.follows.measured), closed: original(message.figure, message.follows.closed) },
  };
  // A chart drawn before and now scrolled out of view draws its new figure when it is back in view:
  // each redraw holds the page's one thread, and a chart below the fold would delay those on screen.
  if (plot._fullLayout && plot.onScreen === false) {
    plot.waiting = plot.drawAgain;
    return;
  }
  draw(plot, message, parentElement);
}

// A figure as text, to tell what a new one changes: its layout and config, and each trace.
function shapeOf(message) {
  return { frame: JSON.stringify([message.figure.layout, message.config]), traces: message.figure.data.map((t) => JSON.stringify(t)) };
}

// The attributes a new figure may change on a drawn scatter trace and still be drawn in place: its
// points, animated as a scrub draws them, and its name, hover text and legend group, restyled.
const MOVED = ["x", "y"];
const RESTYLED = ["name", "legendgroup", "hovertemplate"];

// The traces of ``data`` that differ from what ``drawn`` (a shapeOf) describes, and how: null when the
// new figure has to be drawn afresh (its layout changed, a trace came or went, or changed in another way).
function changedInPlace(drawn, shape, data) {
  if (drawn.frame !== shape.frame || drawn.traces.length !== shape.traces.length) return null;
  const changed = [];
  for (let i = 0; i < data.length; i++) {
    if (drawn.traces[i] === shape.traces[i]) continue;
    const before = JSON.parse(drawn.traces[i]), after = data[i];
    if ((after.type || "scatter") !== "scatter" || (before.type || "scatter") !== "scatter") return null;
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const differ = [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
    if (differ.some((key) => !MOVED.includes(key) && !RESTYLED.includes(key))) return null;
    changed.push({ index: i, restyled: differ.some((key) => RESTYLED.includes(key)) });
  }
  return changed;
}

// The changed traces redrawn without plotly's full redraw, which recomputes and draws every trace
// (the landscape's contour picture among them) even when one run's path moved: their points
// animated at once, then their names and hover texts restyled (which redraws the legend).
function redrawInPlace(plot, data, changed) {
  if (!changed.length) return Promise.resolve();
  const traces = changed.map((c) => c.index);
  const moved = traces.map((i) => ({ x: data[i].x, y: data[i].y })); // as sent (plotly decodes typed arrays), so that plot.data reads as after a full redraw
  const styled = changed.filter((c) => c.restyled).map((c) => c.index);
  return Plotly.animate(plot, [{ data: moved, traces }], STILL).then(() => {
    restack(plot);
    if (!styled.length) return null;
    const update = Object.fromEntries(RESTYLED.map((key) => [key, styled.map((i) => data[i][key] ?? null)]));
    return Plotly.restyle(plot, update, styled);
  });
}

// An animation draws the traces it moved on top of the others; back in the figure's order, as
// plotly draws them afresh (the later over the earlier).
function restack(plot) {
  for (const layer of plot.querySelectorAll(".scatterlayer")) {
    const groups = [...layer.children];
    const order = (g) => (g.__data__ && g.__data__[0] && g.__data__[0].trace ? g.__data__[0].trace.index : Infinity);
    const sorted = [...groups].sort((a, b) => order(a) - order(b));
    if (sorted.some((g, i) => g !== groups[i])) layer.append(...sorted);
  }
}

function draw(plot, message, parentElement) {
  plot.waiting = null;
  plot.drawn = false; // true once this figure is drawn (the browser tests wait for it)
  const bar = child(parentElement, "app-playback");
  bar.hidden = !message.playback;
  loadPlotly(message.plotly).then((Plotly) => {
    const { data, layout } = message.figure;
    if (message.playback) {
      plot.player ??= new Player(bar, plot);
      plot.player.load(message.playback);
    }
    const shape = shapeOf(message);
    const changed = plot._fullLayout && plot.drawnShape && changedInPlace(plot.drawnShape, shape, data);
    plot.drawnShape = shape;
    return changed ? redrawInPlace(plot, data, changed) : Plotly.react(plot, { data, layout, config: message.config });
  }).then(() => {
    // A figure arrives drawn at step 0; the step the reader had chosen is shown again.
    if (message.playback && plot.player.index > 0) plot.player.show(plot.player.index);
    plot.classList.toggle("app-draggable", Boolean(message.drag_scrubs || message.pick));
    if (message.drag_scrubs && !plot.dragScrubs) {
      plot.dragScrubs = true;
      dragScrubs(plot);
    }
    if (message.pick) {
      plot.picker ??= new Picker(plot);
      plot.picker.load(message.pick);
    }
    watchScreen(plot);
    if (plot.clicksFrom !== window.Plotly) { // the events of the plotly.js that drew it (loadPlotly)
      plot.clicksFrom = window.Plotly;
      plot.on("plotly_click", (event) => {
        const point = event.points[0];
        if (plot.sendClick && point) plot.sendClick("click", { x: point.x, y: point.y });
      });
    }
    plot.drawn = true;
    if (!plot.listening) {
      plot.listening = true;
      // The page's column can change width without the window resizing (the sidebar folding).
      let width = plot.clientWidth;
      new ResizeObserver(() => {
        // A chart removed from the page (the landscape, when the 3-D view replaces it) is not resized.
        if (plot.clientWidth !== width && plot.isConnected && plot.offsetParent) Plotly.Plots.resize(plot).catch(() => {});
        width = plot.clientWidth;
      }).observe(plot);
    }
  }).catch((error) => {
    plot.textContent = "This chart could not be drawn: " + error.message;
  });
}
