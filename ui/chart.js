// The browser side of ui/chart.py (a Streamlit components v2 element).
//
// Each call gets the figure as UTF-8 JSON bytes. The first draw makes the div;
// later ones reuse it. A click sends the clicked point back as the "click" trigger,
// and the chart follows its column's width.
// A figure with a playback gets a ▶ button and a step slider under it, which show
// the frames with Plotly.animate (markers and arrows only, no full redraw); the
// step shown is kept when a new figure arrives.

let plotlyLoaded;
function loadPlotly(src) {
  plotlyLoaded ??= window.Plotly ? Promise.resolve(window.Plotly) : new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL(src, document.baseURI).href;
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => { plotlyLoaded = undefined; reject(new Error(`plotly.js did not load from ${src} (is server.enableStaticServing on?)`)); };
    document.head.appendChild(script);
  });
  return plotlyLoaded;
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

export default function ({ data, parentElement, setTriggerValue }) {
  const message = JSON.parse(new TextDecoder().decode(data));
  const plot = child(parentElement, "app-chart");
  const bar = child(parentElement, "app-playback");
  bar.hidden = !message.playback;
  plot.sendClick = message.clicks ? setTriggerValue : null;
  loadPlotly(message.plotly).then((Plotly) => {
    const { data, layout } = message.figure;
    if (message.playback) {
      plot.player ??= new Player(bar, plot);
      plot.player.load(message.playback);
    }
    return Plotly.react(plot, { data, layout, config: message.config });
  }).then(() => {
    // A figure arrives drawn at step 0; the step the reader had chosen is shown again.
    if (message.playback && plot.player.index > 0) plot.player.show(plot.player.index);
    if (!plot.listening) {
      plot.listening = true;
      plot.on("plotly_click", (event) => {
        const point = event.points[0];
        if (plot.sendClick && point) plot.sendClick("click", { x: point.x, y: point.y });
      });
      // The page's column can change width without the window resizing (the sidebar folding).
      let width = plot.clientWidth;
      new ResizeObserver(() => {
        if (plot.clientWidth !== width) Plotly.Plots.resize(plot);
        width = plot.clientWidth;
      }).observe(plot);
    }
  }).catch((error) => {
    plot.textContent = "This chart could not be drawn: " + error.message;
  });
}
