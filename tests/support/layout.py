"""What 'the page reads' means, checked in a real browser on any page: nothing clipped, no label over
another (issue 19, M6; house style rule 15). tests/test_browser_layout.py runs it on every page at a
projector's 1024x768 and at 1920x1080; a new page is checked the same way by adding its address there.

layout_problems(page) returns one sentence per problem, empty when the page reads:

- text cut: a button, metric (label, value, delta), widget label, heading, tab, page link, radio or
  segmented-control option, or the playback's own controls whose text is wider than its box (Streamlit
  cuts it with an ellipsis) or that sticks out of a box that hides what overflows (a row of options
  scrolled sideways, a canvas wider than its column);
- a page wider than the window (sideways scrolling);
- in every Plotly figure (in the page and in component iframes): the title, axis titles, legend,
  colour bars and annotations each inside the figure and none over another; each axis's tick labels
  apart; point labels clear of all those; a label written on a marker inside it; a colour bar beside
  the plot it belongs to, not below it.
"""

from __future__ import annotations

# The elements whose text must show whole, in the page and in the sidebar.
TEXT_SELECTORS = ", ".join([
    "button", "[role='tab']", "h1", "h2", "h3", "h4", "h5", "h6",
    "[data-testid='stMetricLabel']", "[data-testid='stMetricValue']", "[data-testid='stMetricDelta']",
    "[data-testid='stWidgetLabel']", "[data-testid='stPageLink'] a", "[role='radiogroup'] label",
    "[data-testid='stExpander'] summary", ".rnn-playback-controls label", ".rnn-playback-t",
])
# Whatever must fit in its column, text or not.
BOX_SELECTORS = "img, canvas, iframe, .js-plotly-plot"

LAYOUT_PROBLEMS_JS = """([textSelectors, boxSelectors]) => {
  const problems = [];
  const counted = {texts: 0};  // what was looked at: a check that finds nothing to look at proves nothing
  const TOLERANCE = 1;  // px: sub-pixel rounding is not a problem
  const describe = (node) => {
    const testid = node.closest('[data-testid]');
    const text = (node.innerText || node.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    return `${node.tagName.toLowerCase()}${testid ? ' in ' + testid.dataset.testid : ''} "${text}"`;
  };
  const visible = (node) => {
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== 'hidden';
  };
  const hides = (style) => ['hidden', 'clip', 'auto', 'scroll'].includes(style.overflowX);
  // Components draw in shadow roots (the drawing canvas): look inside them too.
  const query = (selector) => {
    const found = [];
    const walk = (root) => {
      found.push(...root.querySelectorAll(selector));
      for (const node of root.querySelectorAll('*')) if (node.shadowRoot) walk(node.shadowRoot);
    };
    walk(document);
    return found;
  };
  const parentOf = (node) => node.parentElement
                             || (node.getRootNode() instanceof ShadowRoot ? node.getRootNode().host : null);

  // Text wider than its own box, in the element or any descendant that hides what overflows.
  for (const node of query(textSelectors)) {
    if (!visible(node)) continue;
    counted.texts++;
    for (const part of [node, ...node.querySelectorAll('*')]) {
      const style = getComputedStyle(part);
      if ((hides(style) || style.textOverflow === 'ellipsis') && part.scrollWidth > part.clientWidth + TOLERANCE
          && part.clientWidth > 0) {
        problems.push(`text cut: ${describe(node)} needs ${part.scrollWidth} px, has ${part.clientWidth} px`);
        break;
      }
    }
  }
  // Sideways: an element reaching out of an ancestor that hides what overflows.
  const clippedSideways = (node) => {
    const box = node.getBoundingClientRect();
    for (let parent = parentOf(node); parent && parent !== document.body; parent = parentOf(parent)) {
      if (!hides(getComputedStyle(parent))) continue;
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - TOLERANCE || box.right > outer.right + TOLERANCE) return parent;
    }
    return null;
  };
  for (const node of query(textSelectors + ', ' + boxSelectors)) {
    if (!visible(node)) continue;
    const parent = clippedSideways(node);
    if (parent) problems.push(`cut at the side: ${describe(node)} reaches out of ${describe(parent)}`);
  }
  for (const scroller of [document.scrollingElement, document.querySelector('[data-testid="stMain"]')]) {
    if (scroller && scroller.scrollWidth > scroller.clientWidth + TOLERANCE) {
      problems.push(`the page scrolls sideways: ${scroller.scrollWidth} px of content in ${scroller.clientWidth} px`);
    }
  }
  return {problems, counted};
}"""

PLOT_PROBLEMS_JS = """() => {
  const problems = [];
  const counted = {figures: 0, items: 0, ticks: 0, labels: 0};
  const TOLERANCE = 1;
  const boxOf = (node) => node.getBoundingClientRect();
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > TOLERANCE
                            && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > TOLERANCE;
  const inside = (a, b) => a.left >= b.left - TOLERANCE && a.right <= b.right + TOLERANCE
                           && a.top >= b.top - TOLERANCE && a.bottom <= b.bottom + TOLERANCE;
  const text = (node) => (node.textContent || '').trim().slice(0, 50);
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!plot._fullLayout || boxOf(plot).width === 0) continue;
    counted.figures++;
    const figureTitle = plot.querySelector('.gtitle');
    const name = `figure "${figureTitle ? text(figureTitle) : ''}"`;
    const figure = boxOf(plot.querySelector('.main-svg'));
    const items = [];
    const add = (node, kind) => {
      const box = boxOf(node);
      if (box.width > 0 && box.height > 0 && text(node)) items.push({label: `${kind} "${text(node)}"`, box, node});
    };
    plot.querySelectorAll('.infolayer > g > text[class$="title"]').forEach(node =>
      add(node, node.classList.contains('gtitle') ? 'title' : 'axis title'));
    plot.querySelectorAll('.legend').forEach(node => add(node, 'legend'));
    // A colour bar is its bar, ticks and title: its background box is padded and transparent.
    plot.querySelectorAll('.colorbar').forEach(node => {
      const parts = Array.from(node.querySelectorAll('.cbfills, .cbaxis, .cbtitle, .cboutline')).map(boxOf)
        .filter(box => box.width > 0 && box.height > 0);
      if (!parts.length) return;
      const box = {left: Math.min(...parts.map(b => b.left)), right: Math.max(...parts.map(b => b.right)),
                   top: Math.min(...parts.map(b => b.top)), bottom: Math.max(...parts.map(b => b.bottom))};
      box.width = box.right - box.left;
      box.height = box.bottom - box.top;
      items.push({label: `colour bar "${text(node)}"`, box, node});
    });
    plot.querySelectorAll('.annotation').forEach(node => add(node, 'annotation'));
    counted.items += items.length;
    for (const item of items) {
      if (!inside(item.box, figure)) problems.push(`${name}: ${item.label} sticks out of the figure`);
    }
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        if (overlap(items[i].box, items[j].box)) problems.push(`${name}: ${items[i].label} over ${items[j].label}`);
      }
    }
    // Tick labels: apart from each other on every axis, and clear of the items above.
    const ticks = {};
    plot.querySelectorAll('.xaxislayer-above > g, .yaxislayer-above > g').forEach(tick => {
      const label = tick.querySelector('text');
      if (label && text(label)) {
        (ticks[tick.getAttribute('class')] = ticks[tick.getAttribute('class')] || []).push(label);
      }
    });
    for (const [axis, labels] of Object.entries(ticks)) {
      counted.ticks += labels.length;
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++) {
          if (overlap(boxOf(labels[i]), boxOf(labels[j]))) {
            problems.push(`${name}: ${axis} labels "${text(labels[i])}" and "${text(labels[j])}" overlap`);
          }
        }
        for (const item of items) {
          if (overlap(boxOf(labels[i]), item.box)) {
            problems.push(`${name}: ${axis} label "${text(labels[i])}" under ${item.label}`);
          }
        }
      }
    }
    // Point labels: inside the figure, clear of titles, legends and colour bars; a label written on a
    // marker (centred on it) no wider than the marker, and such markers apart (a confusion matrix's cells).
    const markers = Array.from(plot.querySelectorAll('.scatterlayer .points path')).map(boxOf);
    const labelled = [];
    for (const label of plot.querySelectorAll('.scatterlayer .textpoint text')) {
      if (!text(label)) continue;
      counted.labels++;
      const box = boxOf(label);
      if (!inside(box, figure)) problems.push(`${name}: point label "${text(label)}" sticks out of the figure`);
      for (const item of items) {
        if (overlap(box, item.box)) problems.push(`${name}: point label "${text(label)}" under ${item.label}`);
      }
      const centreX = (box.left + box.right) / 2, centreY = (box.top + box.bottom) / 2;
      const marker = markers.find(m => Math.abs((m.left + m.right) / 2 - centreX) <= 2
                                       && Math.abs((m.top + m.bottom) / 2 - centreY) <= 3 && m.height >= box.height);
      if (marker && box.width > marker.width + TOLERANCE) {
        problems.push(`${name}: point label "${text(label)}" (${Math.round(box.width)} px) `
                      + `overflows its marker (${Math.round(marker.width)} px)`);
      }
      if (marker) labelled.push([text(label), marker]);
    }
    for (let i = 0; i < labelled.length; i++) {
      for (let j = i + 1; j < labelled.length; j++) {
        if (overlap(labelled[i][1], labelled[j][1])) {
          problems.push(`${name}: the markers labelled "${labelled[i][0]}" and "${labelled[j][0]}" overlap`);
        }
      }
    }
    // A colour bar stands beside the plots: at least half of its height level with their y axes.
    const axes = Object.values(plot._fullLayout._plots || {}).map(subplot => subplot.yaxis).filter(Boolean);
    const top = boxOf(plot).top;
    const plotsTop = top + Math.min(...axes.map(axis => axis._offset));
    const plotsBottom = top + Math.max(...axes.map(axis => axis._offset + axis._length));
    for (const item of axes.length ? items.filter(item => item.label.startsWith('colour bar')) : []) {
      const bar = boxOf(item.node.querySelector('.cbfills') || item.node);
      if (Math.min(bar.bottom, plotsBottom) - Math.max(bar.top, plotsTop) < bar.height / 2) {
        problems.push(`${name}: ${item.label} is not beside the plots (below or above them)`);
      }
    }
  }
  return {problems, counted};
}"""


def layout_problems(page) -> list[str]:
    """Every layout problem of the page as it is now (see the module's docstring); empty when it reads."""
    return layout_census(page)[0]


def layout_census(page) -> tuple[list[str], dict[str, int]]:
    """(layout_problems, how many of each thing were checked: texts, figures, items (titles, axis
    titles, legends, colour bars, annotations), ticks, labels): a renamed class in Streamlit or
    Plotly would leave the checks looking at nothing, and passing."""
    found = page.evaluate(LAYOUT_PROBLEMS_JS, [TEXT_SELECTORS, BOX_SELECTORS])
    problems, counted = found["problems"], dict(found["counted"])
    for frame in page.frames:
        try:
            plots = frame.evaluate(PLOT_PROBLEMS_JS)
        except Exception:  # noqa: BLE001 - a frame navigating away while read: it has no figure to check
            continue
        problems += plots["problems"]
        for name, count in plots["counted"].items():
            counted[name] = counted.get(name, 0) + count
    return problems, counted
