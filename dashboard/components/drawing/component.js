// The drawing canvas as a Streamlit component (v2): the glue between Streamlit and drawing.js, which
// (with network.js) comes before this text in the component's one module (dashboard/components/drawing).
//
// Streamlit calls the default export on mount and again whenever `data` changes, with the same
// parentElement. The canvas is built once per parentElement: the strokes in `data` are drawn on mount
// only (a drawing kept by Python, back after a view switch); from then on the canvas owns its drawing,
// and a rerun that echoes it changes nothing. The drawing goes to Python as the state value "drawing",
// {strokes, png}, when a stroke ends and on undo or clear: never while the pen moves.

const drawings = new WeakMap();  // parentElement -> {handle, digest, setStateValue}

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let entry = drawings.get(parentElement);
  if (!entry) {
    entry = {digest: data.digest, setStateValue};
    const root = parentElement.querySelector(".rnn-drawing-root");
    const options = Object.assign({}, data.options, {strokes: data.strokes || []});
    entry.handle = globalThis.RnnDrawing.mount(root, data.network, options, {
      onChange: (drawing) => entry.setStateValue("drawing", drawing),
    });
    drawings.set(parentElement, entry);
  } else if (data.digest !== entry.digest) {  // another run's weights: the same drawing, read by them
    entry.digest = data.digest;
    entry.handle.setNetwork(data.network);
  }
  entry.setStateValue = setStateValue;
  return () => {
    drawings.delete(parentElement);
    entry.handle.destroy();
  };
}
