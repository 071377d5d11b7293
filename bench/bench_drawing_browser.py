"""How long the drawing canvas takes from a pen movement to the redrawn heatmap, in a real browser.

    python -m bench.bench_drawing_browser                  # trains a 128-unit RNN and LSTM first
    python -m bench.bench_drawing_browser --runs-dir runs --runs ID [ID ...] --moves 300

Builds each run's offline report (dashboard/report), which mounts the canvas (drawing.js with
network.js, the very code the Hidden states component runs), opens it from disk in Chromium, and
moves the mouse over the canvas with the button down, through Chromium's own input (CDP), one move
every --pause-ms so that each lands in a frame of its own. For every frame in which the pen moved, the
page times from the pointer event (its timeStamp: when the browser received the input) to the end
of the rendering that showed it: the canvas's update (strokes painted, the drawing prepared the MNIST
way, the network run, the panels drawn) runs in that frame's requestAnimationFrame, and a task queued
from it runs once the frame's style, layout and paint are done. Prints the median, 10th and 90th
percentiles, min and max over all moves, and the median of each part of the update.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from bench.bench_report import add_run_arguments, benchmark_runs
from tests.support.browser import launch_chromium

MOVES_PER_STROKE = 50  # then the pen lifts and starts again: a digit is a few strokes
# Collects, for every update made for a pen movement, the input time, the time the frame was painted
# and the update's parts (drawing.js's "rnn-drawing-update" event).
COLLECT_JS = """() => {
  window.benchUpdates = [];
  document.querySelector(".rnn-report-drawing").addEventListener("rnn-drawing-update", (event) => {
    const detail = event.detail;
    if (detail.source !== "move" || detail.inputTime === null) return;
    setTimeout(() => window.benchUpdates.push({...detail, paintedAt: performance.now()}), 0);
  });
}"""


def stroke_positions(box: dict, moves: int) -> list[tuple[float, float]]:
    """moves positions tracing loops over the canvas, well inside its edges."""
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    radius = 0.3 * min(box["width"], box["height"])
    return [(centre_x + radius * math.sin(step / 9) * math.cos(step / 23),
             centre_y + radius * math.cos(step / 13)) for step in range(moves)]


def measure(browser, report: Path, moves: int, pause_ms: int) -> list[dict]:
    """Every move's update: {latency, prepareMs, runMs, drawMs} in milliseconds."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(report.as_uri())
        canvas = page.locator(".rnn-report-drawing .rnn-drawing-canvas")
        canvas.scroll_into_view_if_needed()
        page.evaluate(COLLECT_JS)
        positions = stroke_positions(canvas.bounding_box(), moves)
        for number, (x, y) in enumerate(positions):
            if number % MOVES_PER_STROKE == 0:
                page.mouse.up()
                page.mouse.move(x, y)
                page.mouse.down()
            else:
                page.mouse.move(x, y)
            page.wait_for_timeout(pause_ms)
        page.mouse.up()
        page.wait_for_timeout(200)
        updates = page.evaluate("() => window.benchUpdates")
    finally:
        page.close()
    return [{"latency": update["paintedAt"] - update["inputTime"], **{part: update[part] for part in
                                                                       ("prepareMs", "runMs", "drawMs")}}
            for update in updates]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    decile = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return (f"median {statistics.median(ordered):.1f} ms (10% {decile(0.1):.1f}, 90% {decile(0.9):.1f}, "
            f"min {ordered[0]:.1f}, max {ordered[-1]:.1f}; {len(ordered)} frames)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--moves", type=int, default=300, help="mouse moves per run")
    parser.add_argument("--pause-ms", type=int, default=40, help="time between moves")
    arguments = parser.parse_args()
    with benchmark_runs(arguments) as (store, data, run_ids, work):
        from playwright.sync_api import sync_playwright

        from dashboard.report import build_report, report_file_name, write_report

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for run_id in run_ids:
                record = store.read_run(run_id)
                report = write_report(work / report_file_name(run_id), build_report(store, run_id, data))
                updates = measure(browser, report, arguments.moves, arguments.pause_ms)
                parts = ", ".join(f"{name} {statistics.median(update[key] for update in updates):.2f} ms"
                                  for name, key in (("paint and prepare", "prepareMs"), ("network", "runMs"),
                                                    ("panels", "drawMs")))
                print(f"{record.config.cell.upper()} {record.config.hidden_units} units (run {run_id}): pen move to "
                      f"painted heatmap {summary([update['latency'] for update in updates])}; update parts "
                      f"(medians): {parts}")
            browser.close()


if __name__ == "__main__":
    main()
