// The playback component's glue (dashboard/components/playback): Streamlit calls the default export on
// mount and again whenever `data` changes, always with the same parentElement; the view built on the
// first call (globalThis.RnnPlayback, playback.js, which comes before this in the module) is kept per
// parentElement and updated in place.
const views = new WeakMap();  // parentElement -> view

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let view = views.get(parentElement);
  if (!view) {
    view = globalThis.RnnPlayback.createView(parentElement.querySelector(".rnn-playback"));
    views.set(parentElement, view);
  }
  view.update(data, setStateValue);
  return () => view.stop();
}
