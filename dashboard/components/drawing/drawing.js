// A drawing canvas that reads the digit while it is drawn: every animation frame in which the pen moved,
// the drawing is prepared the MNIST way and run through the network in the page (network.js), and the
// prepared 28x28 image, the hidden states after each row, the probabilities after each row and the
// prediction are redrawn, with no server involved.
//
// Like network.js, one file with two ways in: a classic <script> (the offline report inlines it) or the
// head of a Streamlit component's ES module (dashboard/components/drawing joins network.js, this file and
// component.js). It puts one namespace, globalThis.RnnDrawing, on the page: no import or export here,
// strict-mode code only, no closing script tag in the text. It needs globalThis.RnnNetwork.
//
// RnnDrawing.mount(element, payload, options, callbacks) builds the canvas and the live panels inside
// element and returns a handle. payload: network_payload's JSON. options (all optional): size (the
// canvas's side in drawing units), strokeWidth, strokes (a drawing to start from), stateColors,
// probabilityColors, inkColors (Plotly colour scales as [[position, colour], ...]: the page's).
// callbacks: onChange({strokes, png}) when a stroke ends, on undo and on clear (png: the canvas as a
// PNG data URL, null when empty); onUpdate(detail) after every live update. The element also gets a
// "rnn-drawing-update" event with the same detail, and data-updates / data-prediction attributes.
(function () {
  "use strict";

  const ROWS = 28;  // timesteps: image rows
  const CLASSES = 10;
  const DEFAULTS = {
    size: 280,
    // A 30-unit pen on a 280-unit box makes strokes of about 2.5 px once the digit is scaled to 20x20,
    // as thick as MNIST's.
    strokeWidth: 30,
    strokes: [],
    // Plotly's RdBu_r, Blues and Greys, as dashboard/figures_inspect.py colors() gives them; the page
    // passes its own, so these only serve a page that passes none.
    stateColors: [[0, "rgb(5,48,97)"], [0.5, "rgb(247,247,247)"], [1, "rgb(103,0,31)"]],
    probabilityColors: [[0, "rgb(247,251,255)"], [1, "rgb(8,48,107)"]],
    inkColors: [[0, "rgb(255,255,255)"], [1, "rgb(0,0,0)"]],
  };
  const PAPER = "#ffffff";
  const INK = "#000000";
  const EMPTY_CELL = [241, 243, 245];  // a panel with nothing to show yet
  const HINT = "Draw one digit, large, in the middle of the box.";
  const WAITING = "The network's answer shows here while you draw.";

  const {element} = globalThis.RnnDom;  // dom.js, which comes first

  // "rgb(5, 48, 97)", "rgba(...)" or "#0530a1" -> [r, g, b].
  function parseColor(text) {
    const value = String(text).trim();
    const hex = /^#([0-9a-f]{6})$/i.exec(value);
    if (hex) return [0, 2, 4].map((start) => parseInt(hex[1].slice(start, start + 2), 16));
    const rgb = /^rgba?\(([^)]*)\)$/i.exec(value);
    if (rgb) {
      const parts = rgb[1].split(",").slice(0, 3).map(Number);
      if (parts.length === 3 && parts.every(Number.isFinite)) return parts;
    }
    throw new RnnNetwork.NetworkError(`colour ${JSON.stringify(text)} is not rgb(r, g, b) or #rrggbb`);
  }

  // A colour scale as 256 RGB triples, colour i at position i / 255, interpolated linearly in RGB
  // between its stops as plotly.js draws a heatmap's scale.
  function colorTable(scale) {
    const stops = scale.map(([position, color]) => [Number(position), parseColor(color)]);
    const table = new Uint8ClampedArray(256 * 3);
    for (let index = 0; index < 256; index++) {
      const position = index / 255;
      let upper = stops.findIndex(([stop]) => stop >= position);
      if (upper <= 0) upper = upper === 0 ? 1 : stops.length - 1;
      const [low, lowColor] = stops[upper - 1], [high, highColor] = stops[upper];
      const share = high > low ? Math.min(Math.max((position - low) / (high - low), 0), 1) : 0;
      for (let channel = 0; channel < 3; channel++) {
        table[3 * index + channel] = Math.round(lowColor[channel] + share * (highColor[channel] - lowColor[channel]));
      }
    }
    return table;
  }

  // A CSS gradient of a colour scale, for its legend.
  function gradient(scale) {
    return `linear-gradient(to right, ${scale.map(([position, color]) => `${color} ${100 * position}%`).join(", ")})`;
  }

  // A small canvas drawn one cell per pixel and shown enlarged, with crisp cells.
  class CellPanel {
    constructor(parent, className, columns, caption) {
      this.figure = element("figure", `rnn-drawing-panel ${className}`, parent);
      element("figcaption", "", this.figure, caption);
      this.canvas = element("canvas", "rnn-drawing-cells", this.figure);
      this.resize(columns);
    }

    resize(columns) {
      this.columns = columns;
      this.canvas.width = columns;
      this.canvas.height = ROWS;
      this.context = this.canvas.getContext("2d");
      this.pixels = this.context.createImageData(columns, ROWS);
    }

    // values: ROWS x columns numbers, row-major; each is placed on the table's scale from low to high.
    draw(values, table, low, high) {
      const data = this.pixels.data;
      for (let index = 0; index < this.columns * ROWS; index++) {
        const share = Math.min(Math.max((values[index] - low) / (high - low), 0), 1);
        const entry = 3 * Math.round(share * 255);
        data[4 * index] = table[entry];
        data[4 * index + 1] = table[entry + 1];
        data[4 * index + 2] = table[entry + 2];
        data[4 * index + 3] = 255;
      }
      this.context.putImageData(this.pixels, 0, 0);
    }

    clear() {
      const data = this.pixels.data;
      for (let index = 0; index < this.columns * ROWS; index++) {
        data.set(EMPTY_CELL, 4 * index);
        data[4 * index + 3] = 255;
      }
      this.context.putImageData(this.pixels, 0, 0);
    }
  }

  function mount(root, payload, options, callbacks) {
    const settings = Object.assign({}, DEFAULTS, options || {});
    const {size, strokeWidth} = settings;
    let handlers = callbacks || {};
    const tables = {state: colorTable(settings.stateColors), probability: colorTable(settings.probabilityColors),
                    ink: colorTable(settings.inkColors)};

    root.classList.add("rnn-drawing");
    root.replaceChildren();
    const pad = element("div", "rnn-drawing-pad", root);
    const canvas = element("canvas", "rnn-drawing-canvas", pad);
    canvas.width = size;
    canvas.height = size;
    canvas.setAttribute("aria-label", "Drawing area: draw one digit with the mouse, a pen or a finger");
    const context = canvas.getContext("2d", {willReadFrequently: true});
    const tools = element("div", "rnn-drawing-tools", pad);
    const undoButton = element("button", "rnn-drawing-undo", tools, "↶ Undo");
    const clearButton = element("button", "rnn-drawing-clear", tools, "✕ Clear");
    undoButton.type = clearButton.type = "button";
    element("div", "rnn-drawing-hint", pad, HINT);

    const live = element("div", "rnn-drawing-live", root);
    const verdict = element("div", "rnn-drawing-verdict", live);
    const panels = element("div", "rnn-drawing-panels", live);
    const rowAxis = element("div", "rnn-drawing-rows", panels);
    element("span", "", rowAxis, "row 1");
    element("span", "", rowAxis, "row 28");
    const image = new CellPanel(panels, "rnn-drawing-image", ROWS, "Prepared 28×28");
    const states = new CellPanel(panels, "rnn-drawing-states", 1, "Hidden state h_t");
    const probabilities = new CellPanel(panels, "rnn-drawing-probabilities", CLASSES, "P(digit)");
    const digits = element("div", "rnn-drawing-digits", probabilities.figure);
    for (let digit = 0; digit < CLASSES; digit++) element("span", "", digits, String(digit));
    const legend = element("div", "rnn-drawing-legend", live);
    for (const [scale, text] of [[settings.stateColors, "h_t from −1 (blue) to +1 (red), units as trained"],
                                 [settings.probabilityColors, "P(digit) after each row, from 0 to 100%"]]) {
      const key = element("span", "rnn-drawing-key", legend);
      element("span", "rnn-drawing-scale", key).style.background = gradient(scale);
      element("span", "", key, text);
    }

    let network = null;
    let strokes = (settings.strokes || []).map((stroke) => Array.from(stroke, Number));
    let active = null;  // {pointerId, stroke} while a pen is down
    let frame = null;  // the animation frame requested for the next update, if any
    let pendingInput = null;  // timeStamp of the oldest pointer event not yet shown
    let updates = 0;
    const handle = {trace: null, prepared: null};

    function setNetwork(next) {
      try {
        network = RnnNetwork.loadNetwork(next);
        states.resize(network.units);
        handle.error = null;
      } catch (error) {
        network = null;
        handle.error = error.message;
      }
      update("network");
    }

    // The canvas from the strokes alone, so what is shown after an undo or a remount is exactly what
    // was drawn: round caps and joins, a lone point as a dot.
    function paint() {
      context.fillStyle = PAPER;
      context.fillRect(0, 0, size, size);
      Object.assign(context, {strokeStyle: INK, fillStyle: INK, lineWidth: strokeWidth, lineCap: "round",
                              lineJoin: "round"});
      for (const stroke of strokes) {
        context.beginPath();
        if (stroke.length === 2) {
          context.arc(stroke[0], stroke[1], strokeWidth / 2, 0, 2 * Math.PI);
          context.fill();
          continue;
        }
        context.moveTo(stroke[0], stroke[1]);
        for (let index = 2; index < stroke.length; index += 2) context.lineTo(stroke[index], stroke[index + 1]);
        context.stroke();
      }
    }

    // Repaint, prepare, run and draw the panels; tell whoever listens why (source: "move" for a frame
    // in which the pen moved, "release", "undo", "clear", "network") and how long each part took.
    function update(source) {
      if (frame !== null) cancelAnimationFrame(frame);
      frame = null;
      const started = performance.now();
      paint();
      const prepared = strokes.length ? RnnNetwork.prepareDrawing(context.getImageData(0, 0, size, size).data, size, size)
        : {image: null, error: null};
      const afterPrepare = performance.now();
      const trace = prepared.image && network ? network.run(prepared.image) : null;
      const afterRun = performance.now();
      if (prepared.image) image.draw(prepared.image, tables.ink, 0, 1);
      else image.clear();
      if (trace) {
        states.draw(trace.hidden, tables.state, -1, 1);
        probabilities.draw(trace.probabilities, tables.probability, 0, 1);
        const last = (ROWS - 1) * CLASSES + trace.prediction;
        verdict.textContent = `Reads it as ${trace.prediction} (${(100 * trace.probabilities[last]).toFixed(1)}%) after row 28`;
      } else {
        states.clear();
        probabilities.clear();
        verdict.textContent = handle.error || prepared.error || WAITING;
      }
      verdict.classList.toggle("rnn-drawing-problem", Boolean(handle.error || prepared.error));
      handle.trace = trace;
      handle.prepared = prepared;
      updates += 1;
      root.dataset.updates = String(updates);
      root.dataset.prediction = trace ? String(trace.prediction) : "";
      const finished = performance.now();
      const detail = {source, inputTime: pendingInput, drawnAt: finished, prepareMs: afterPrepare - started,
                      runMs: afterRun - afterPrepare, drawMs: finished - afterRun,
                      prediction: trace ? trace.prediction : null};
      pendingInput = null;
      root.dispatchEvent(new CustomEvent("rnn-drawing-update", {detail}));
      if (handlers.onUpdate) handlers.onUpdate(detail);
    }

    // One update per animation frame however many pointer events arrive in it.
    function requestUpdate(event) {
      if (pendingInput === null) pendingInput = event.timeStamp;
      if (frame === null) frame = requestAnimationFrame(() => update("move"));
    }

    function changed() {
      if (!handlers.onChange) return;
      handlers.onChange({strokes: strokes.map((stroke) => stroke.slice()),
                         png: strokes.length ? canvas.toDataURL("image/png") : null});
    }

    // A pointer's position in drawing units (the canvas may be shown smaller than its size), kept on
    // the canvas and rounded to a tenth: what Python gets back and paints again on a remount.
    function point(event) {
      const box = canvas.getBoundingClientRect();
      const place = (offset, extent) => Math.round(10 * Math.min(Math.max(offset * size / extent, 0), size)) / 10;
      return [place(event.clientX - box.left, box.width), place(event.clientY - box.top, box.height)];
    }

    canvas.addEventListener("pointerdown", (event) => {
      if (active || (event.pointerType === "mouse" && event.button !== 0)) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      active = {pointerId: event.pointerId, stroke: point(event)};
      strokes.push(active.stroke);
      requestUpdate(event);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!active || event.pointerId !== active.pointerId) return;
      // Every position the browser saw since the last event, not only the last one: smooth strokes
      // when the pen moves faster than events are delivered.
      const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
      for (const each of events.length ? events : [event]) active.stroke.push(...point(each));
      requestUpdate(event);
    });
    const finish = (event) => {
      if (!active || event.pointerId !== active.pointerId) return;
      active = null;
      if (pendingInput === null) pendingInput = event.timeStamp;
      update("release");  // now, not on the next frame: what is sent is what is shown
      changed();
    };
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    undoButton.addEventListener("click", () => {
      if (active || !strokes.length) return;
      strokes.pop();
      update("undo");
      changed();
    });
    clearButton.addEventListener("click", () => {
      if (active || !strokes.length) return;
      strokes = [];
      update("clear");
      changed();
    });

    Object.assign(handle, {
      setNetwork,
      setCallbacks(next) {
        handlers = next || {};
      },
      strokes: () => strokes.map((stroke) => stroke.slice()),
      destroy() {
        if (frame !== null) cancelAnimationFrame(frame);
        root.replaceChildren();
        root.classList.remove("rnn-drawing");
      },
    });
    setNetwork(payload);
    return handle;
  }

  // element: a small DOM helper the report's page uses too.
  globalThis.RnnDrawing = Object.freeze({mount, colorTable});
})();
