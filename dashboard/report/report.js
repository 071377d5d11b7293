// The offline report's page (dashboard/report): draws what the file holds, with the dashboard's own code.
//
// The charts and the playback are drawn by the very scripts the dashboard's components run, inlined
// before this one: plotly_chart.js (globalThis.RnnPlotly: a chart, one drawing queue) and playback.js
// (globalThis.RnnPlayback: a view updated with the data the Hidden states page sends its component, and
// a state setter that has nowhere to send to). The drawing canvas is drawing.js with network.js, both
// inlined too. plotly.js is inlined as well, so neither ever loads it.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("rnn-report-data").textContent);
  const nothing = () => {};
  const PRINT_WIDTH_PX = 700;  // A4's width inside report.css's @page margins, in CSS pixels

  const {element} = globalThis.RnnDom;  // dom.js, inlined before this script

  // A figure whose repeated traces were stored once (dashboard/report share_repeated_traces), whole again.
  function resolved(figure) {
    const traces = figure.data.map((trace) => (trace.shared ? structuredClone(data.shared[trace.shared]) : trace));
    return {...figure, data: traces};
  }

  function resolvedPlayback(playback) {
    const panels = playback.panels.map((panel) => ({
      ...panel,
      inspect: {...panel.inspect, figure: resolved(panel.inspect.figure)},
      lines: {...panel.lines, figure: resolved(panel.lines.figure)},
      path: {...panel.path, figure: resolved(panel.path.figure)},
    }));
    return {...playback, panels};
  }

  // A test image (base64 of 784 bytes, 255 = ink) as a small canvas: dark ink on white paper.
  function thumbnail(entry, parent) {
    const canvas = element("canvas", "rnn-report-digit", parent);
    canvas.width = canvas.height = 28;
    const context = canvas.getContext("2d");
    const picture = context.createImageData(28, 28);
    const bytes = atob(entry.pixels);
    for (let index = 0; index < 784; index++) {
      const paper = 255 - bytes.charCodeAt(index);
      picture.data.set([paper, paper, paper, 255], 4 * index);
    }
    context.putImageData(picture, 0, 0);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `test image #${entry.index}, a ${entry.true}`);
    return canvas;
  }

  const percent = (value) => `${Math.round(100 * value)}%`;

  function drawMistakes() {
    const gallery = document.querySelector('[data-gallery="mistakes"]');
    if (!data.mistakes.length) element("p", "", gallery, "This run classifies every test image correctly.");
    for (const entry of data.mistakes) {
      const card = element("figure", "rnn-report-thumb", gallery);
      thumbnail(entry, card);
      element("figcaption", "", card, `#${entry.index}: ${entry.true} → ${entry.predicted} (${percent(entry.confidence)})`);
    }
  }

  function verdict(entry) {
    const outcome = entry.true === entry.predicted ? "correct" : `wrong: it is a ${entry.true}`;
    return `Test image #${entry.index}: the network answers ${entry.predicted} with ${percent(entry.confidence)}, ${outcome}.`;
  }

  // The picker over the played images and the playback of the chosen one; picking another image gives
  // the view new data with the same panels, which it redraws in place.
  function setUpPlayback() {
    const picker = document.querySelector('[data-gallery="played"]');
    const sentence = document.querySelector(".rnn-report-verdict");
    const parentElement = document.querySelector(".rnn-report-playback");
    const view = globalThis.RnnPlayback.createView(parentElement.querySelector(".rnn-playback"));
    const buttons = data.played.map((entry, position) => {
      const button = element("button", "rnn-report-thumb", picker);
      button.type = "button";
      thumbnail(entry, button);
      const mark = entry.true === entry.predicted ? "✓" : "✗";
      element("span", "", button, `#${entry.index}: ${entry.true} → ${entry.predicted} ${mark}`);
      button.addEventListener("click", () => choose(position));
      return button;
    });
    function choose(position) {
      const entry = data.played[position];
      buttons.forEach((button, index) => button.setAttribute("aria-pressed", String(index === position)));
      sentence.textContent = verdict(entry);
      parentElement.dataset.image = String(entry.index);
      view.update(resolvedPlayback(entry.playback), nothing);
    }
    if (data.played.length) choose(0);
  }

  function drawCharts() {
    for (const parentElement of document.querySelectorAll("[data-chart]")) {
      const name = parentElement.dataset.chart;
      globalThis.RnnPlotly.drawChart(parentElement, {chart: resolved(data.charts[name]), plotly_url: "", digest: name,
                                                     clickable: false}, nothing);
    }
  }

  // Printed, the page is narrower than on screen: every plot is laid out again at the paper's width
  // (a plot's SVG has a fixed size), and back at the screen's afterwards.
  function fitPlots(printing) {
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
      if (!plot._fullLayout) continue;
      if (printing) {
        plot.rnnScreenWidth = plot.layout.width === undefined ? null : plot.layout.width;
        window.Plotly.relayout(plot, {width: Math.min(PRINT_WIDTH_PX, plot.rnnScreenWidth || PRINT_WIDTH_PX)});
      } else if (plot.rnnScreenWidth !== undefined) {
        window.Plotly.relayout(plot, {width: plot.rnnScreenWidth});
        delete plot.rnnScreenWidth;
      }
    }
  }
  let printing = false;
  function printMode(on) {
    if (on === printing) return;
    printing = on;
    fitPlots(on);
  }
  window.addEventListener("beforeprint", () => printMode(true));
  window.addEventListener("afterprint", () => printMode(false));
  window.matchMedia("print").addEventListener("change", (event) => printMode(event.matches));

  // The canvas first: it needs no plot, and works even if the rest could not be drawn.
  const drawing = RnnDrawing.mount(document.querySelector(".rnn-report-drawing"), data.network, data.drawing, {});
  window.rnnReport = {drawing};
  drawMistakes();

  try {
    setUpPlayback();
    drawCharts();
  } catch (error) {
    for (const node of document.querySelectorAll(".rnn-report-playback, [data-chart]")) {
      node.textContent = `This part could not be drawn: ${error.message}`;
    }
  }
})();
