"""How long the timestep highlight on Hidden states takes to follow the slider, in a real browser.

    python -m bench.bench_playback --runs-dir runs                     # this checkout (the playback)
    python -m bench.bench_playback --runs-dir runs --project /tmp/old  # another checkout, e.g. the
                                                                       # slider that reran the script

Starts `streamlit run dashboard/app.py` from the project folder on a runs folder holding at least one
run, opens Hidden states in Chromium, moves the timestep one row at a time with the keyboard (the
ArrowRight key on the slider) and times each move from the key press to the animation frame in which
the aligned figure's outline sits on the new row (checked in each frame, so a move counts as done
in the first frame that draws it). The same measure works for both
designs: the Streamlit slider (a rerun, then a new figure) and the playback's range input (a
Plotly.relayout in the browser). Prints every time and the median. --screenshots DIR also saves the
page playing, and (with a second run in the folder) the two-run mode.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.support.browser import PROJECT_ROOT, launch_chromium, new_page, start_streamlit

# Resolves with performance.now() at the first animation frame in which the aligned figure outlines
# row t; rejects after 20 s. The playback draws its outlines as elements over the plot (each says its
# timestep, and sits where Plotly would draw row t); the Streamlit page drew a shape in the figure.
WAIT_FOR_ROW_JS = """(t) => new Promise((resolve, reject) => {
  const deadline = performance.now() + 20000;
  function outlined() {
    const outline = document.querySelector('.rnn-playback-outline');
    if (outline) return outline.dataset.timestep === String(t);
    const plot = document.querySelector('.js-plotly-plot');
    const shapes = plot && plot._fullLayout && plot._fullLayout.shapes;
    return Boolean(shapes && shapes.length && shapes[0].y0 === t - 0.5);
  }
  function check() {
    if (outlined()) return resolve(performance.now());
    if (performance.now() > deadline) return reject(new Error('row ' + t + ' was never outlined'));
    requestAnimationFrame(check);
  }
  check();
})"""

SLIDERS = {  # the timestep slider of each design
    "playback": "input.rnn-playback-slider",
    "streamlit": '[data-testid="stSlider"] input[type="range"]',
}


def current_row(page) -> float:
    return page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.shapes[0].y0 + 0.5")


def measure(page, design: str, moves: int) -> list[float]:
    """Milliseconds from each ArrowRight on the slider to the frame that outlines the next row."""
    slider = page.locator(SLIDERS[design]).first
    slider.focus()
    slider.press("Home")  # row 1, then step down the image
    page.evaluate(WAIT_FOR_ROW_JS, 1)
    page.wait_for_timeout(1500)  # let a rerun finish and the page settle
    times = []
    for row in range(2, 2 + moves):
        start = page.evaluate("performance.now()")
        slider.press("ArrowRight")
        shown = page.evaluate(WAIT_FOR_ROW_JS, row)
        times.append(shown - start)
        page.wait_for_timeout(1200 if design == "streamlit" else 300)  # a rerun may still be on its way
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, required=True, help="a runs folder with at least one run")
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="the checkout to serve")
    parser.add_argument("--run", default="", help="the run to show (default: the newest)")
    parser.add_argument("--image", type=int, default=0, help="the test image to read")
    parser.add_argument("--moves", type=int, default=12, help="slider moves to time")
    parser.add_argument("--screenshots", type=Path, help="save screenshots of the playback here")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-playback-"))
    process, url = start_streamlit(arguments.runs_dir.resolve(), work / "server.log",
                                   project=arguments.project.resolve())
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with new_page(browser, 1400, 240) as page:
                run = f"&run={arguments.run}" if arguments.run else ""
                page.goto(f"{url}/hidden-states?image={arguments.image}{run}")
                page.wait_for_selector(".js-plotly-plot", timeout=240_000)
                design = "playback" if page.locator(SLIDERS["playback"]).count() else "streamlit"
                times = measure(page, design, arguments.moves)
                print(f"{design}: slider to highlight, {len(times)} moves, ms: "
                      + " ".join(f"{value:.0f}" for value in times))
                print(f"{design}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms")
                if arguments.screenshots and design == "playback":
                    take_screenshots(page, arguments.screenshots)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"server log: {work / 'server.log'}")


def take_screenshots(page, folder: Path) -> None:
    """The page while playing (near row 12), and the two-run mode at row 14 if the folder has two runs."""
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2600})  # the whole playback in view: a WebGL plot
    page.wait_for_timeout(1000)                               # scrolled out of view is not painted
    page.locator(".rnn-playback-slider").focus()
    page.keyboard.press("Home")  # from row 1
    page.locator(".rnn-playback-play").click()
    page.wait_for_function("() => Number(document.querySelector('.rnn-playback').dataset.timestep) >= 12")
    page.locator(".rnn-playback").screenshot(path=str(folder / "playback-playing.png"))  # mid-play
    page.wait_for_function("() => document.querySelector('.rnn-playback').dataset.playing === 'false'")
    page.locator(".rnn-playback-slider").focus()
    for _ in range(14):  # two runs at row 14, where the tutorial RNN is still making up its mind
        page.keyboard.press("ArrowLeft")
    compare = page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare with another run")
    if not compare.count():
        return
    compare.locator("input").click()
    page.get_by_role("option").nth(1).click()
    page.wait_for_function("() => document.querySelectorAll('.rnn-playback-header').length === 2 && "
                           "document.querySelector('.rnn-playback').dataset.ready === 'true'", timeout=240_000)
    page.wait_for_timeout(1500)
    page.locator(".rnn-playback").screenshot(path=str(folder / "playback-two-runs.png"))


if __name__ == "__main__":
    main()
