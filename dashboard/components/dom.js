// The one DOM helper the browser scripts share (playback.js, drawing.js, the report's report.js).
//
// A classic script that puts one namespace, globalThis.RnnDom, on the page: the Streamlit components
// get it at the head of their one ES module (dashboard/components with_dom), the offline report
// inlines it first. Like the scripts that use it: no import or export statements, strict-mode code
// only, no closing script tag anywhere.
(function () {
  "use strict";

  // A new element: its class, its text (if any), appended to parent (if any).
  function element(tag, className, parent, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  globalThis.RnnDom = Object.freeze({element});
})();
