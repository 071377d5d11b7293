"""A report's contents as one self-contained HTML page: template.html filled in, with every script
and style sheet inlined and the data as JSON, so that opening it from disk makes no request at all."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from string import Template

from core.runs.format import RunStatus
from dashboard.components import DOM_JS
from dashboard.components.drawing import DRAWING_CSS, DRAWING_JS
from dashboard.components.network import NETWORK_JS
from dashboard.components.playback import PLAYBACK_CSS, PLAYBACK_JS
from dashboard.components.plotly_chart import PLOTLY_CHART_JS, PLOTLY_JS_FILE
from dashboard.report._contents import ReportContents

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template.html"
REPORT_JS = HERE / "report.js"
REPORT_CSS = HERE / "report.css"
# What the page may load: its own inline scripts and styles, the playback module it imports from a Blob
# made of its own text (report.js), and the data: images plotly.js draws heatmaps into. Nothing else,
# so even a forgotten reference in a library could not reach the network.
POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
          "base-uri 'none'; form-action 'none'")
# Inlined text must not end its <script> or <style> element early, open an HTML comment inside a script
# (which changes how the rest is parsed), or point the browser at a source map to fetch.
FORBIDDEN = re.compile(r"</script|</style|<!--|sourceMappingURL", re.IGNORECASE)


def plotly_js_path() -> Path:
    """The plotly.js bundle the pages draw with (the vendored "cartesian" bundle), inlined in the report."""
    return PLOTLY_JS_FILE


def _inline(path: Path) -> str:
    """A file's text, to be inlined in a <script> or <style> element; ValueError if it cannot be."""
    text = path.read_text(encoding="utf-8")
    found = FORBIDDEN.search(text)
    if found:
        raise ValueError(f"{path.name} cannot be inlined in a report: it holds {found.group(0)!r}")
    return text


def _json(value: object) -> str:
    # "<" as \u003c: no "</script" or "<!--" inside the data, whatever a name or a label holds.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _rows(rows: list[tuple[str, ...]], bold: list[bool] | None = None) -> str:
    cells = []
    for number, row in enumerate(rows):
        attribute = ' class="rnn-report-differs"' if bold and bold[number] else ""
        first, *rest = (html.escape(text) for text in row)
        cells.append(f'<tr{attribute}><th scope="row">{first}</th>' + "".join(f"<td>{text}</td>" for text in rest)
                     + "</tr>")
    return "".join(cells)


def report_html(contents: ReportContents) -> str:
    """The report's page: template.html with the contents' text escaped and its data as JSON."""
    record = contents.record
    config = record.config
    heading = f"Run “{record.name}” ({record.run_id})" if record.name else f"Run {record.run_id}"
    epochs = (f"{config.epochs} epoch{'s' * (config.epochs != 1)}" if record.status != RunStatus.STOPPED
              else f"{record.status_info.epochs_done} of {config.epochs} epochs (stopped)")
    summary = (f"{config.cell.upper()} with {config.hidden_units} hidden units, trained {epochs} on "
               f"{config.train_subset:,} images; test accuracy {record.metric('test_accuracy'):.2%}.")
    fixed_points_chart = ('<div class="rnn-report-chart" data-chart="fixed_points"><div class="rnn-chart"></div></div>'
                          if "fixed_points" in contents.data["charts"] else "")
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        policy=POLICY, title=html.escape(f"{heading} · RNN digit explorer"), heading=html.escape(heading),
        summary=html.escape(summary), made_on=html.escape(contents.made_on),
        results=_rows(contents.results), settings=_rows([row[:3] for row in contents.settings],
                                                        [row[3] for row in contents.settings]),
        memory=html.escape(f"This run: {contents.memory_text}."), fixed_points_chart=fixed_points_chart,
        fixed_points="".join(f"<li>{html.escape(line)}</li>" for line in contents.fixed_points_text),
        styles="\n".join(_inline(path) for path in (PLAYBACK_CSS, DRAWING_CSS, REPORT_CSS)),
        data=_json(contents.data), playback_js=_inline(PLAYBACK_JS), plotly_js=_inline(plotly_js_path()),
        plotly_chart_js=_inline(PLOTLY_CHART_JS), dom_js=_inline(DOM_JS),
        network_js=_inline(NETWORK_JS), drawing_js=_inline(DRAWING_JS), report_js=_inline(REPORT_JS))
