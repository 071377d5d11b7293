// plotly.js in the page, for every component that draws with it (dashboard/components/plotly_chart,
// dashboard/components/playback): loading it once, one queue that draws every plot in turn, plots at a
// height fitted to their width, and the plotly_chart component's one figure.
//
// One file, two ways in (as dashboard/components/network/network.js): as a classic <script> (an offline
// HTML file can inline it) and at the head of a Streamlit component's ES module (plotly_chart with_plotly),
// it runs once and puts one namespace object, globalThis.RnnPlotly, on the page. It must stay valid as
// both, so: no import or export statements here, strict-mode code only, and no closing script tag
// anywhere in the text.
(function () {
  "use strict";

  function loadPlotly(url) {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!window.rnnPlotlyLoading) {
      window.rnnPlotlyLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = url;
        script.onload = () => resolve(window.Plotly);
        script.onerror = () => {
          window.rnnPlotlyLoading = null;
          reject(new Error(`plotly.js could not be loaded from ${url}`));
        };
        document.head.appendChild(script);
      });
    }
    return window.rnnPlotlyLoading;
  }

  // Resolves once the browser has painted what is drawn so far: a figure shows while the next is drawn.
  function afterPaint() {
    return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  }

  // Every plot the page's components draw (the playback's and the charts') goes through one queue: one
  // plot at a time, in the order asked for, each painted before the next starts. A new image's aligned
  // figure, asked for first, is then on screen before the charts below it are drawn.
  function drawInTurn(job) {
    const turn = (window.rnnDrawQueue || Promise.resolve()).then(job).then(afterPaint);
    window.rnnDrawQueue = turn.catch(() => {});
    return turn;
  }

  const PLOT_CONFIG = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"]};

  // A figure with a square image panel (its first x axis scale-anchored to the row axis, as
  // dashboard/hidden_states' inspect_figure and attribution_figure draw them) gets the
  // height at which the row axis is as tall as the image is wide, and at most the height it was built
  // with. On a narrow page the row axis would otherwise shrink to the image's width inside a taller
  // figure, and the colour bars, placed in fractions of the figure's height, hang below the plot.
  function fittedLayout(layout, width) {
    const xaxis = layout.xaxis || {};
    if (xaxis.scaleanchor !== "y" || !Array.isArray(xaxis.domain) || !width) return layout;
    const margin = Object.assign({l: 80, r: 80, t: 100, b: 80}, layout.margin);
    const imageWidth = (xaxis.domain[1] - xaxis.domain[0]) * (width - margin.l - margin.r);
    const height = Math.min(layout.height || 450, Math.ceil(margin.t + margin.b + imageWidth));
    return height === layout.height ? layout : {...layout, height};
  }

  const REFIT_PX = 40;  // a width change this large refits the height: not a scrollbar coming or going

  // Draw (or update) a plot at its fitted height, and fit it again when its width changes much (a
  // relayout redraws the whole figure; a few pixels off only narrow the image a little).
  function plotFitted(Plotly, plot, traces, layout, drawn) {
    plot.rnnLayout = layout;
    if (!plot.rnnFitObserver) {
      let width = plot.clientWidth;
      plot.rnnFitObserver = new ResizeObserver(() => {
        if (!plot._fullLayout || Math.abs(plot.clientWidth - width) < REFIT_PX) return;
        width = plot.clientWidth;
        const height = fittedLayout(plot.rnnLayout, width).height;
        if (height !== plot._fullLayout.height) Plotly.relayout(plot, {height});
      });
      plot.rnnFitObserver.observe(plot);
    }
    const fitted = fittedLayout(layout, plot.clientWidth);
    return drawn ? Plotly.react(plot, traces, fitted, PLOT_CONFIG) : Plotly.newPlot(plot, traces, fitted, PLOT_CONFIG);
  }


  // plotly_chart: one figure, drawn in its turn; drawn again only when it changed. A clickable one
  // sends the clicked point's x and y to Python as the trigger value "click".
  function drawChart(parentElement, data, setTriggerValue) {
    const node = parentElement.querySelector(".rnn-chart");
    node.rnnSetTrigger = data.clickable ? setTriggerValue : null;
    if (node.dataset.digest === data.digest) return;
    node.dataset.digest = data.digest;
    node.dataset.ready = "false";
    loadPlotly(data.plotly_url)
      .then((Plotly) => drawInTurn(() => plotFitted(Plotly, node, data.chart.data, data.chart.layout, true)))
      .then(() => {
        if (!node.rnnClickHandler) {
          node.rnnClickHandler = (event) => {
            const point = event.points && event.points[0];
            if (node.rnnSetTrigger && point) node.rnnSetTrigger("click", {x: point.x, y: point.y});
          };
          node.on("plotly_click", node.rnnClickHandler);
        }
        if (node.dataset.digest === data.digest) node.dataset.ready = "true";
      })
      .catch((error) => { node.textContent = `The chart could not be drawn: ${error.message}`; });
  }


  globalThis.RnnPlotly = Object.freeze({loadPlotly, afterPaint, drawInTurn, fittedLayout, plotFitted, drawChart});
})();
