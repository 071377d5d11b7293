// The plotly_chart and preload_plotly components' glue (dashboard/components/plotly_chart): Streamlit
// calls the default export on mount and whenever `data` changes. The drawing is plotly_chart.js's
// (globalThis.RnnPlotly), which comes first in the component's module.
export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  if (data.preload) {  // preload_plotly: start fetching and parsing plotly.js while the page is still computed
    globalThis.RnnPlotly.loadPlotly(data.preload).catch(() => {});  // a failure is said by the plot that needs it
    return () => {};
  }
  globalThis.RnnPlotly.drawChart(parentElement, data, setTriggerValue);
  return () => {};
}
