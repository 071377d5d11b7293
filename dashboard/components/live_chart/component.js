// The live chart's glue (dashboard/components/live_chart): Streamlit calls the default export on mount
// and whenever `data` changes, every second while a run trains. Plotly.react updates the plot in place,
// so layout.uirevision keeps the user's zoom; it would plot afresh, zoom lost, if the config changed, so
// the toolbar is hidden and shown by a class instead. plotly.js is loaded by plotly_chart.js
// (globalThis.RnnPlotly), which comes first in the component's module.
export default function (component) {
  const {data, parentElement} = component;
  const node = parentElement.querySelector(".rnn-live-chart");
  node.classList.toggle("rnn-no-toolbar", !data.toolbar);
  if (node.dataset.digest === data.digest) return () => {};  // an unchanged redraw is skipped
  const drawn = data.digest;
  node.dataset.digest = drawn;
  node.dataset.ready = "false";
  const config = Object.assign({responsive: true, displaylogo: false}, data.config);
  globalThis.RnnPlotly.loadPlotly(data.plotly_url)
    .then((Plotly) => Plotly.react(node, data.figure.data, data.figure.layout, config))
    .then(() => { if (node.dataset.digest === drawn) node.dataset.ready = "true"; })
    .catch((error) => { node.textContent = `The chart could not be drawn: ${error.message}`; });
  return () => {};
}
