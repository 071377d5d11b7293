"""Training from the dashboard's Train page, with a browser tab watching, against the CLI.

    python -m bench.bench_page_training                  # seeds 5 6 7, tutorial config
    python -m bench.bench_page_training --seeds 5 6 7 8 9

For each seed it trains the tutorial's config twice, in turn (the order alternates from pair to
pair, so a drift of the machine's speed does not favour one side): once with
`python -m core train --seed S --json` and once from the Train page of a real `streamlit run
dashboard/app.py`, driven by Chromium through Playwright, whose tab stays open on the live chart
for the whole training. Each side has its own runs folder, so neither is served from the other's
cache. The page's figure is the run's own samples/s (read through core.runs.store, the same measure as
the CLI's: samples over the wall time of the batch loops). While the page trains, the CPU time
of Chromium's processes and of the server's threads (grouped by thread name) is sampled from
/proc, which shows where the cores go besides the training. Linux only; needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.runs.format import RunRecord, RunStatus
from core.runs.store import RunStore
from tests.support.browser import clean_up_work_dir, launch_chromium, start_streamlit, stop_streamlit

PROJECT_ROOT = Path(__file__).resolve().parent.parent

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat_path: Path) -> float:
    """utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in seconds."""
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def thread_cpu(pid: int) -> dict[tuple[int, str], float]:
    """CPU seconds of each live thread of process pid, by (thread id, thread name)."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds[int(task.name), (task / "comm").read_text().strip()] = _cpu_seconds(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended while being read
    return seconds


def cpu_used_by_name(before: dict[tuple[int, str], float], after: dict[tuple[int, str], float]) -> dict[str, float]:
    """CPU seconds spent between two thread_cpu readings, summed by thread name (threads that
    ended in between are missed; the ones that started count from zero)."""
    totals: dict[str, float] = collections.defaultdict(float)
    for (thread_id, name), seconds in after.items():
        totals[name] += seconds - before.get((thread_id, name), 0.0)
    return dict(totals)


def chromium_cpu() -> float:
    """CPU seconds used so far by every live Chromium process (browser, renderer, GPU, utility)."""
    total = 0.0
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if "chrom" in (process / "comm").read_text():
                total += _cpu_seconds(process / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def cli_samples_per_second(seed: int, runs_dir: Path) -> float:
    result = subprocess.run([sys.executable, "-m", "core", "train", "--seed", str(seed), "--json",
                             "--runs-dir", str(runs_dir)], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, check=True)
    summary = json.loads(result.stdout.strip().splitlines()[-1])  # --json prints its summary last
    if summary["cached"]:
        raise RuntimeError(f"seed {seed} came from the CLI's cache; use a fresh --work-dir")
    return summary["samples_per_second"]


def finished_page_run(runs_dir: Path, seed: int) -> RunRecord | None:
    """The page's run with this seed, once it is complete."""
    records, _ = RunStore(runs_dir).list_runs()  # a run being written lists as running, or damaged
    return next((record for record in records
                 if record.config.seed == seed and record.status == RunStatus.COMPLETE), None)


def page_samples_per_second(page, url: str, seed: int, runs_dir: Path, server_pid: int) -> tuple[float, dict]:
    """Train the tutorial's config with this seed from the Train page; (samples/s, CPU seconds used
    meanwhile by Chromium and by the server's thread groups)."""
    page.goto(url)
    seed_field = page.get_by_role("spinbutton", name="Seed")
    seed_field.wait_for(timeout=60_000)
    seed_field.fill(str(seed))
    seed_field.press("Enter")
    time.sleep(1)
    chromium_before, server_before = chromium_cpu(), thread_cpu(server_pid)
    page.get_by_role("button", name="Train", exact=True).click()
    deadline = time.monotonic() + 600
    server_after = dict(server_before)  # the last reading of every thread, those that end included
    while (record := finished_page_run(runs_dir, seed)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page's training of seed {seed} did not finish in 10 minutes")
        time.sleep(0.25)
        server_after.update(thread_cpu(server_pid))
    server_after.update(thread_cpu(server_pid))
    usage = {"chromium": chromium_cpu() - chromium_before}
    usage.update({f"server {name}": seconds for name, seconds
                  in cpu_used_by_name(server_before, server_after).items() if seconds >= 0.05})
    return record.metric("samples_per_second"), usage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[5, 6, 7])
    parser.add_argument("--work-dir", default=None,
                        help="where the two runs folders go; default a new temporary folder")
    arguments = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    work = Path(arguments.work_dir or tempfile.mkdtemp(prefix="bench-page-"))
    cli_runs, page_runs = work / "cli", work / "page"
    server, url = start_streamlit(page_runs, work / "streamlit.log")
    ratios = []
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            print("| seed | CLI samples/s | page samples/s | page / CLI | CPU seconds used meanwhile |")
            print("|---|---|---|---|---|")
            for position, seed in enumerate(arguments.seeds):
                if position % 2 == 0:
                    cli = cli_samples_per_second(seed, cli_runs)
                    on_page, usage = page_samples_per_second(page, url, seed, page_runs, server.pid)
                else:
                    on_page, usage = page_samples_per_second(page, url, seed, page_runs, server.pid)
                    cli = cli_samples_per_second(seed, cli_runs)
                ratios.append(on_page / cli)
                spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in
                                  sorted(usage.items(), key=lambda item: -item[1]))
                print(f"| {seed} | {cli:,.0f} | {on_page:,.0f} | {on_page / cli:.3f} | {spent} |", flush=True)
            browser.close()
    finally:
        stop_streamlit(server)
        clean_up_work_dir(work, remove=arguments.work_dir is None and len(ratios) == len(arguments.seeds))
    print()
    print(f"page / CLI samples/s over {len(ratios)} pairs: median {statistics.median(ratios):.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
