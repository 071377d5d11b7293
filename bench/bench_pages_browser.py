"""How long each page takes to open warm in a real browser, and where that time goes (issue 19, M10).

    python -m bench.bench_pages_browser                                   # trains a small sweep and a run first
    python -m bench.bench_pages_browser --runs-dir DIR                    # a copy of DIR's runs and sweeps instead
    python -m bench.bench_pages_browser --baseline /path/to/other/checkout --repeats 9
    python -m bench.bench_pages_browser --runs-dir DIR --floor       # and the same pages with nothing on them

Every page (Train, Runs, Sweeps, Hidden states, Misclassified) is opened by navigating to its address
with a run (and a sweep) chosen in the URL, as a bookmark or a shared link does, after each page was
opened twice before, so every cache of the server and of the browser is filled ("warm"). A page has
opened once everything on it is drawn (the script run ended, every Plotly plot and the playback are
drawn) and nothing changed for half a second; its time is from the start of the navigation to the
last change (tests/support/browser.py wait_until_settled; a change to a <canvas>'s children, fallback
content the browser never draws, is not one). Each measurement also records where the time
went: when Streamlit's script run started and ended (before: loading the page and connecting; in
between: the server's script, with the browser drawing what arrives; after: the browser's drawing
alone), the bytes the server sent over the websocket, and Chromium's own counters of main-thread
time (tasks, JavaScript, layout, style).

With --baseline, the other checkout's app is served too (its own server and runs folder, a copy of
the same runs) and the two are measured alternately, page by page, with the order swapped every
round, so both see the same machine load: compare their ratio, not their absolute figures, on a
shared machine. Each checkout's server runs its own code; this script, the runs and the timing come
from this checkout.

With --floor, a stand-in app is measured alternately too: the same five addresses, the same
.streamlit/config.toml and sidebar navigation, each page only its title. It is what any Streamlit page
costs on this machine and browser (loading the frontend, connecting, drawing the frame); a page's time
above it is what its own content costs. Prints every page's median, minimum and maximum; never fails on a figure. Needs
/usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.format import RunStatus
from tests.support.browser import (
    PROJECT_ROOT,
    clean_up_work_dir,
    launch_chromium,
    new_page,
    start_streamlit,
    stop_streamlit,
    wait_until_settled,
)

UI_SECONDS = 300  # a first view on a busy 2-core machine loads TensorFlow and computes a run's analysis
WARM_UP_VIEWS = 2
VIEWPORT = (1400, 1000)
PAGES = {"Train": "?run={run}", "Runs": "runs", "Sweeps": "sweeps?sweep={sweep}",
         "Hidden states": "hidden-states?run={run}&image=0", "Misclassified": "misclassified?run={run}"}
# Chromium's counters of the renderer's main thread (Performance.getMetrics), in seconds.
BROWSER_COUNTERS = {"TaskDuration": "tasks", "ScriptDuration": "JavaScript", "LayoutDuration": "layout",
                    "RecalcStyleDuration": "style"}


@dataclass
class Sample:
    seconds: float  # from the start of the navigation until the page settled
    script_started: float | None  # the page heard the script run start ...
    script_finished: float | None  # ... and end (late when the page is busy drawing what came before)
    first_frame: float | None  # the network received the server's first websocket message ...
    last_frame: float | None  # ... and its last one: after it, the wait is the browser's alone
    bytes_received: int  # in websocket messages
    counters: dict[str, float]


@dataclass
class Side:
    """One checkout under test: its server, its browser tab and what was measured there."""

    name: str
    checkout: Path
    url: str = ""
    page: object = None
    cdp: object = None
    # The network's record of the last navigation: its start, and (time, bytes) of each websocket
    # message received, on Chromium's monotonic clock, which the page's own main thread cannot delay.
    navigation_started: list[float | None] = field(default_factory=lambda: [None])
    frames: list[tuple[float, int]] = field(default_factory=list)
    samples: dict[str, list[Sample]] = field(default_factory=dict)


FLOOR_APP = """import streamlit as st

st.set_page_config(page_title="floor", layout="wide")
PAGES = {PAGES!r}


def page(title):
    return lambda: st.title(title)


st.navigation([st.Page(page(title), title=title, url_path=path or "train", default=not path)
               for title, path in PAGES.items()]).run()
"""


def write_floor_app(folder: Path) -> Path:
    """The stand-in app of --floor in folder: dashboard/app.py with PAGES' addresses, each page only
    its title, and this project's .streamlit/config.toml."""
    paths = {name: address.split("?")[0] for name, address in PAGES.items()}
    (folder / "dashboard").mkdir(parents=True)
    (folder / "dashboard" / "app.py").write_text(FLOOR_APP.replace("{PAGES!r}", repr(paths)))
    shutil.copytree(PROJECT_ROOT / ".streamlit", folder / ".streamlit")
    (folder / "dashboard" / "static").mkdir()  # server.enableStaticServing wants the folder
    return folder


def core_json(arguments: list[str]) -> list[dict]:
    output = subprocess.run([sys.executable, "-m", "core", *arguments, "--json"], cwd=PROJECT_ROOT, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def prepare_runs(runs_dir: Path, given: Path | None) -> tuple[str, str]:
    """(run id, sweep id) to open, in runs_dir: a copy of the given folder, or a small sweep on Ray (four
    trials) and one run of a full epoch trained now by the CLI."""
    if given is not None:
        shutil.copytree(given, runs_dir)
    else:
        for command in (["sweep", "--train-subset", "2000", "--epochs", "2", "--vary", "learning_rate=0.001,0.01",
                         "--seeds", "0", "1"], ["train", "--epochs", "1"]):
            subprocess.run([sys.executable, "-m", "core", *command, "--runs-dir", str(runs_dir)], cwd=PROJECT_ROOT,
                           check=True, capture_output=True)
    runs = [row for row in core_json(["runs", "--runs-dir", str(runs_dir)]) if row["status"] == RunStatus.COMPLETE]
    sweeps = core_json(["sweeps", "--runs-dir", str(runs_dir)])
    if not runs or not sweeps:
        raise SystemExit(f"{runs_dir} needs a complete run and a sweep")
    newest = max(runs, key=lambda row: row["started_at"] or "")
    return newest["run_id"], sweeps[0]["sweep_id"]


def browser_counters(side: Side) -> dict[str, float]:
    metrics = {metric["name"]: metric["value"] for metric in side.cdp.send("Performance.getMetrics")["metrics"]}
    return {name: metrics.get(name, 0.0) for name in BROWSER_COUNTERS}


def open_page(side: Side, address: str) -> Sample:
    """Navigate side's tab to address and wait until the page settles."""
    before = browser_counters(side)
    side.frames.clear()
    side.navigation_started[0] = None
    side.page.goto(f"{side.url}/{address}")
    settled = wait_until_settled(side.page, UI_SECONDS)
    after = browser_counters(side)
    # The counters belong to the tab's renderer; a navigation may start them again from zero.
    counters = {name: after[name] - before[name] if after[name] >= before[name] else after[name] for name in after}
    start = side.navigation_started[0]
    first, last = (side.frames[0][0] - start, side.frames[-1][0] - start) if side.frames else (None, None)
    return Sample(settled.seconds, settled.script_started, settled.script_finished, first, last,
                  sum(size for _, size in side.frames), counters)


def watch_network(side: Side) -> None:
    """Record, through Chromium's DevTools protocol, when side's navigations start and when each
    websocket message arrives, and its size."""
    def navigation(event: dict) -> None:
        if event.get("type") == "Document" and side.navigation_started[0] is None:  # not a component's iframe
            side.navigation_started[0] = event["timestamp"]

    def frame(event: dict) -> None:
        response = event["response"]
        data = response.get("payloadData", "")
        size = len(data) * 3 // 4 if response.get("opcode") == 2 else len(data.encode())  # binary frames: base64
        side.frames.append((event["timestamp"], size))

    side.cdp.send("Network.enable")
    side.cdp.on("Network.requestWillBeSent", navigation)
    side.cdp.on("Network.webSocketFrameReceived", frame)


def median_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def report(sides: list[Side]) -> None:
    print("\nSeconds from navigation until the page settled (median, min, max over the repeats):")
    for page_name in [name for name in PAGES if any(name in side.samples for side in sides)]:
        line = f"  {page_name:14}"
        medians = []
        for side in sides:
            seconds = [sample.seconds for sample in side.samples.get(page_name, [])]
            if not seconds:
                line += f"  {side.name}: no samples"
                continue
            medians.append(statistics.median(seconds))
            line += (f"  {side.name}: {medians[-1]:.2f} ({min(seconds):.2f}-{max(seconds):.2f}, "
                     f"n={len(seconds)})")
        if len(medians) >= 2 and sides[1].name != "floor":
            line += f"  ratio {sides[0].name}/{sides[1].name}: {medians[0] / medians[1]:.2f}"
        if len(medians) == len(sides) and sides[-1].name == "floor":
            line += f"  {sides[0].name} above the floor: {medians[0] - medians[-1]:.2f}"
        print(line)
    print("\nWhere the time went (medians, s from the navigation's start): the server's first and last websocket "
          "message as the network received them (before the first: loading the page and connecting; between: "
          "the script run; after the last: the browser's drawing alone), the script run's start and end as the page "
          "heard them, the settled page; KB received over the websocket; Chromium's main thread (s): "
          + ", ".join(BROWSER_COUNTERS.values()))
    for side in sides:
        for page_name, samples in side.samples.items():
            def median(name: str, samples=samples) -> str:
                value = median_or_none([getattr(sample, name) for sample in samples])
                return "  -  " if value is None else f"{value:5.2f}"
            counters = "  ".join(f"{label} {statistics.median(sample.counters[name] for sample in samples):.2f}"
                                 for name, label in BROWSER_COUNTERS.items())
            print(f"  {side.name:9} {page_name:14} messages {median('first_frame')} -> {median('last_frame')}  "
                  f"script {median('script_started')} -> {median('script_finished')}  settled {median('seconds')}  "
                  f"{statistics.median(sample.bytes_received for sample in samples) / 1024:5,.0f} KB  {counters}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", type=Path, help="copy these runs (and sweeps) instead of training new ones")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to measure alternately")
    parser.add_argument("--repeats", type=int, default=7, help="warm openings of each page per checkout")
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="only these pages")
    parser.add_argument("--floor", action="store_true", help="also measure the same pages with nothing on them")
    parser.add_argument("--keep", action="store_true", help="keep the runs and the servers' logs")
    arguments = parser.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    sides = [Side("this", PROJECT_ROOT)]
    if arguments.baseline is not None:
        if not (arguments.baseline / "dashboard" / "app.py").is_file():
            raise SystemExit(f"--baseline {arguments.baseline} is not a checkout of this project (no dashboard/app.py)")
        sides.append(Side("baseline", arguments.baseline.resolve()))
    if arguments.floor:
        sides.append(Side("floor", write_floor_app(work / "floor")))
    finished = False
    processes = []
    try:
        run_id, sweep_id = prepare_runs(work / "runs", arguments.runs_dir)
        addresses = {name: PAGES[name].format(run=run_id, sweep=sweep_id) for name in arguments.pages}
        print(f"run {run_id}, sweep {sweep_id}; " + "; ".join(f"{side.name}: {side.checkout}" for side in sides),
              flush=True)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with contextlib.ExitStack() as stack:
                for side in sides:
                    runs = work / f"runs-{side.name}"
                    shutil.copytree(work / "runs", runs)
                    process, side.url = start_streamlit(runs, work / f"streamlit-{side.name}.log",
                                                        timeout=UI_SECONDS, project=side.checkout)
                    processes.append(process)
                    side.page = stack.enter_context(new_page(browser, VIEWPORT[1], UI_SECONDS, VIEWPORT[0]))
                    side.cdp = side.page.context.new_cdp_session(side.page)
                    side.cdp.send("Performance.enable")
                    watch_network(side)
                for side in sides:
                    for address in addresses.values():
                        for _ in range(WARM_UP_VIEWS):
                            open_page(side, address)
                print("warmed up; measuring", flush=True)
                for repeat in range(arguments.repeats):
                    order = sides if repeat % 2 == 0 else sides[::-1]
                    for name, address in addresses.items():
                        for side in order:
                            sample = open_page(side, address)
                            side.samples.setdefault(name, []).append(sample)
                            print(f"  {repeat + 1}/{arguments.repeats} {side.name:9} {name:14} {sample.seconds:.2f} s",
                                  flush=True)
            browser.close()
        finished = True
    finally:
        for process in processes:
            stop_streamlit(process)
        report(sides)
        clean_up_work_dir(work, remove=finished and not arguments.keep)


if __name__ == "__main__":
    main()
