// Playback of an image read row by row (see dashboard/components/playback, which sends `data`): the
// view, that is the three plots of each run and the timestep control, built in a root element and
// updated in place. It draws through globalThis.RnnPlotly (dashboard/components/plotly_chart), whose
// queue it shares with the page's other plots.
//
// The highlights the figure builders drew (row outlines, the probability plot's vertical line, the
// ring on the PCA path) are hidden in the plots and redrawn as absolutely placed elements over them,
// at the pixels Plotly would use. Moving the timestep then only moves those elements: a frame costs
// well under a millisecond. A Plotly.relayout of a shape recalculates the whole figure (its heatmaps
// too, as shapes can change an autoranged axis), far too slow to run per frame.
//
// One file, two ways in (as dashboard/components/network/network.js): as a classic <script> after
// plotly_chart.js (an offline HTML file can inline both) and in the Streamlit component's ES module
// (component.js holds its default export), it runs once and puts one namespace object,
// globalThis.RnnPlayback, on the page: createView(root) returns a view whose update(data,
// setStateValue) draws or moves it and whose stop() ends a playing view. It must stay valid as both,
// so: no import or export statements here, strict-mode code only, and no closing script tag anywhere.
(function () {
  "use strict";

  const {loadPlotly, drawInTurn, plotFitted} = globalThis.RnnPlotly;

  const {element} = globalThis.RnnDom;  // dom.js, which comes first

  const PLOTS = ["inspect", "lines", "path"];
  // The slider's range until Python's first data arrives; from then on it is data.timesteps, which
  // Python sends (core/data/mnist.py IMAGE_SIZE). The one copy of that number on the JS side.
  const TIMESTEPS_BEFORE_DATA = 28;
  const REPORT_DELAY_MS = 600;  // after the slider's last move, the timestep goes back to Python

  // The figure without the highlights this component draws itself: the row outlines and the vertical
  // line (shapes) stay in the layout, invisible, as the description of where and how to draw them.
  function withoutHighlights(part) {
    const layout = Object.assign({}, part.figure.layout);
    const hidden = new Set([...(part.rows || []), ...(part.columns || [])]);
    layout.shapes = (layout.shapes || []).map((shape, index) => (hidden.has(index) ? {...shape, visible: false} : shape));
    const data = part.figure.data.map((trace, index) => (index === part.marker ? {...trace, visible: false} : trace));
    return {data, layout};
  }

  // Pixels (from the plot's top left corner) of a value on an axis reference, as Plotly places shapes:
  // "x2" (data), "x2 domain" (0..1 of that axis) or "paper" (0..1 of the plotting area).
  function pixel(plot, ref, value, letter) {
    const full = plot._fullLayout;
    if (ref === "paper") {
      return letter === "x" ? full._size.l + value * full._size.w : full._size.t + (1 - value) * full._size.h;
    }
    const [axisRef, domain] = ref.split(" ");
    const axis = full[letter + "axis" + axisRef.slice(1)];
    if (domain === "domain") return axis._offset + (letter === "x" ? value : 1 - value) * axis._length;
    return axis._offset + axis.l2p(value);
  }

  // The highlight elements of one plot of a panel ("inspect": its row outlines, "lines": the vertical
  // line, "path": the ring), styled as the figure builder drew them, in place of any drawn before.
  function buildHighlights(panel, name) {
    const {spec, overlays} = panel;
    overlays[name].replaceChildren();
    const plot = panel[name];
    if (name === "path") {
      const marker = spec.path.figure.data[spec.path.marker];
      const ring = element("div", "rnn-playback-ring", overlays.path);
      const size = marker.marker.size;
      Object.assign(ring.style, {width: `${size}px`, height: `${size}px`, borderColor: marker.marker.line.color,
                                 borderWidth: `${marker.marker.line.width}px`});
      panel.highlights.path = [{kind: "point", plot, trace: marker, node: ring, points: spec.path.points}];
      return;
    }
    // Rows of the inspect figure are outlined boxes; the lines figure's column is a filled bar.
    const [kind, className, indices] = name === "inspect" ? ["row", "rnn-playback-outline", spec.inspect.rows]
      : ["column", "rnn-playback-line", spec.lines.columns];
    panel.highlights[name] = indices.map((index) => {
      const shape = spec[name].figure.layout.shapes[index];
      const node = element("div", className, overlays[name]);
      if (kind === "row") Object.assign(node.style, {borderColor: shape.line.color, borderWidth: `${shape.line.width}px`});
      else Object.assign(node.style, {background: shape.line.color, width: `${shape.line.width}px`});
      return {kind, plot, shape, node};
    });
  }

  // Move every highlight of a panel to timestep t: a row outline spans the shape's x extent and rows
  // t - 1/2 .. t + 1/2; the vertical line stands at x = t; the ring sits on the path's point after row t.
  function placeHighlights(panel, t) {
    for (const highlight of Object.values(panel.highlights).flat()) {
      const {plot, node} = highlight;
      if (!plot._fullLayout) continue;
      if (highlight.kind === "row") {
        const {shape} = highlight;
        const left = pixel(plot, shape.xref, shape.x0, "x"), right = pixel(plot, shape.xref, shape.x1, "x");
        const top = pixel(plot, shape.yref, t - 0.5, "y"), bottom = pixel(plot, shape.yref, t + 0.5, "y");
        Object.assign(node.style, {left: `${Math.min(left, right)}px`, width: `${Math.abs(right - left)}px`,
                                   top: `${Math.min(top, bottom)}px`, height: `${Math.abs(bottom - top)}px`});
      } else if (highlight.kind === "column") {
        const {shape} = highlight;
        const x = pixel(plot, shape.xref, t, "x");
        const top = pixel(plot, shape.yref, shape.y1, "y"), bottom = pixel(plot, shape.yref, shape.y0, "y");
        Object.assign(node.style, {left: `${x - highlight.shape.line.width / 2}px`, top: `${Math.min(top, bottom)}px`,
                                   height: `${Math.abs(bottom - top)}px`});
      } else {
        const [x, y] = highlight.points[t - 1];
        const xref = highlight.trace.xaxis || "x", yref = highlight.trace.yaxis || "y";
        const radius = highlight.trace.marker.size / 2;
        Object.assign(node.style, {left: `${pixel(plot, xref, x, "x") - radius}px`,
                                   top: `${pixel(plot, yref, y, "y") - radius}px`});
      }
      node.dataset.timestep = String(t);
    }
  }


  function createView(root) {
    const controls = element("div", "rnn-playback-controls", root);
    const play = element("button", "rnn-playback-play", controls, "▶ Play");
    play.type = "button";
    const label = element("label", "rnn-playback-label", controls);
    element("span", "", label, "Timestep t (the image row just read)");
    const slider = element("input", "rnn-playback-slider", label);
    Object.assign(slider, {type: "range", min: "1", max: String(TIMESTEPS_BEFORE_DATA), step: "1"});
    slider.setAttribute("aria-label", "Timestep t (the image row just read)");
    const readout = element("span", "rnn-playback-t", controls);
    const grid = element("div", "rnn-playback-grid", root);
    const status = element("div", "rnn-playback-status", root);

    const view = {
      timestep: TIMESTEPS_BEFORE_DATA, timesteps: TIMESTEPS_BEFORE_DATA, frameMs: 200, digest: null, panels: [], timer: null,
      setStateValue: null, reported: null, pythonTimestep: null, reportTimer: null, drawing: Promise.resolve(),
    };

    // The timestep goes back to Python only when it is let go of, never per frame.
    function report() {
      if (view.setStateValue && view.reported !== view.timestep) {
        view.reported = view.timestep;
        view.setStateValue("timestep", view.timestep);
      }
    }

    function showTimestep(timestep) {
      view.timestep = timestep;
      slider.value = String(timestep);
      readout.textContent = `t = ${timestep}`;
      root.dataset.timestep = String(timestep);
      for (const panel of view.panels) {
        const leans = panel.spec.leans_to[timestep - 1];
        const confidence = Math.round(100 * panel.spec.confidence[timestep - 1]);
        panel.sentence.textContent = `After row ${timestep} it leans to ${leans} (${confidence}%).`;
        if (panel.drawn) placeHighlights(panel, timestep);
      }
    }

    function pause() {
      clearTimeout(view.reportTimer);
      if (view.timer === null) return;
      clearInterval(view.timer);
      view.timer = null;
      play.textContent = "▶ Play";
      root.dataset.playing = "false";
      report();
    }

    function start() {
      if (view.timestep >= view.timesteps) showTimestep(1);  // at the end, Play starts from row 1
      play.textContent = "❚❚ Pause";
      root.dataset.playing = "true";
      view.timer = setInterval(() => {
        if (view.timestep >= view.timesteps) return pause();
        showTimestep(view.timestep + 1);
      }, view.frameMs);
    }

    play.addEventListener("click", () => (view.timer === null ? start() : pause()));
    slider.addEventListener("input", () => {
      pause();
      showTimestep(Number(slider.value));
    });
    // Arrow keys fire "change" on every step: report once the slider has rested for a moment.
    slider.addEventListener("change", () => {
      clearTimeout(view.reportTimer);
      view.reportTimer = setTimeout(report, REPORT_DELAY_MS);
    });

    // The same panels as drawn (a new image, unit order or state kind of the same runs): each plot is
    // updated in place by Plotly.react, which skips what did not change, instead of built again.
    function samePanels(data) {
      return view.panels.length === data.panels.length && view.panels.every(
        (panel, index) => panel.drawn && Boolean(panel.runLabel) === Boolean(data.panels[index].label));
    }

    // Each plot is shown as soon as it is drawn (the browser paints between plots), the aligned image |
    // states | probabilities figure first: the one the user looks at when they pick another image.
    async function update(Plotly, data) {
      for (const [index, panel] of view.panels.entries()) {
        panel.spec = data.panels[index];
        if (panel.runLabel) panel.runLabel.textContent = panel.spec.label;
        for (const name of PLOTS) {
          const {data: traces, layout} = withoutHighlights(panel.spec[name]);
          await drawInTurn(async () => {
            await plotFitted(Plotly, panel[name], traces, layout, true);
            buildHighlights(panel, name);
            placeHighlights(panel, view.timestep);
          });
        }
      }
    }

    async function draw(data) {
      const Plotly = await loadPlotly(data.plotly_url);
      if (samePanels(data)) {
        await update(Plotly, data);
        showTimestep(view.timestep);
        root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);
        root.dataset.ready = "true";
        return;
      }
      for (const panel of view.panels) for (const name of PLOTS) Plotly.purge(panel[name]);
      grid.replaceChildren();
      grid.dataset.panels = String(data.panels.length);
      // One run: its aligned figure across the page, its two smaller plots side by side below. Two runs:
      // the aligned figures one above the other (side by side, each would be too narrow for its rows to
      // read), then both runs' probability plots side by side, then both PCA paths. On a narrow page
      // (playback.css) every plot takes the whole width, one run after the other.
      const count = data.panels.length;
      const place = (node, row, column) => Object.assign(node.style, {gridRow: String(row), gridColumn: column});
      view.panels = data.panels.map((spec, index) => {
        const header = element("div", "rnn-playback-header", grid);
        header.dataset.panel = String(index);
        place(header, 2 * index + 1, "1 / -1");
        const runLabel = spec.label ? element("div", "rnn-playback-run", header, spec.label) : null;
        const sentence = element("div", "rnn-playback-sentence", header);
        const panel = {spec, runLabel, sentence, drawn: false, overlays: {}, highlights: {}};
        for (const name of PLOTS) {
          const frame = element("div", `rnn-playback-frame rnn-playback-${name}`, grid);
          frame.dataset.panel = String(index);
          if (name === "inspect") place(frame, 2 * index + 2, "1 / -1");
          else if (count === 1) place(frame, 3, name === "lines" ? "1" : "2");
          else place(frame, 2 * count + (name === "lines" ? 1 : 2), String(index + 1));
          panel[name] = element("div", "rnn-playback-plot", frame);
          panel.overlays[name] = element("div", "rnn-playback-overlay", frame);
        }
        return panel;
      });
      showTimestep(view.timestep);  // the sentences, before the plots arrive
      for (const panel of view.panels) {
        for (const name of PLOTS) {
          const {data: traces, layout} = withoutHighlights(panel.spec[name]);
          await drawInTurn(async () => {
            await plotFitted(Plotly, panel[name], traces, layout, false);
            // A resize redraws the plot and may move its axes: put the highlights back where they belong.
            panel[name].on("plotly_afterplot", () => placeHighlights(panel, view.timestep));
            buildHighlights(panel, name);
            placeHighlights(panel, view.timestep);
          });
        }
        panel.drawn = true;
      }
      showTimestep(view.timestep);
      status.textContent = "";
      root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);  // draws: tests check play adds none
      root.dataset.ready = "true";
    }

    view.update = (data, setStateValue) => {
      view.setStateValue = setStateValue;
      view.timesteps = data.timesteps;
      view.frameMs = data.frame_ms;
      slider.max = String(data.timesteps);
      // Python's timestep is taken when Python changed it (a link with ?t=), not when it only echoes the
      // one reported, which the user may have moved on from since.
      if (data.timestep !== view.pythonTimestep) {
        view.pythonTimestep = data.timestep;
        if (data.timestep !== view.reported && view.timer === null) {
          view.timestep = data.timestep;
          view.reported = data.timestep;
        }
      }
      if (data.digest === view.digest) return showTimestep(view.timestep);  // only the timestep moved
      view.digest = data.digest;
      root.dataset.ready = "false";
      view.drawing = view.drawing.then(() => draw(data)).catch((error) => {
        status.textContent = `The playback could not be drawn: ${error.message}`;
      });
    };
    view.stop = () => {
      if (view.timer !== null) clearInterval(view.timer);
      view.timer = null;
    };
    return view;
  }


  globalThis.RnnPlayback = Object.freeze({createView});
})();
