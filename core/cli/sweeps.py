"""`python -m core sweep [--vary ...] [--json]` and `python -m core sweeps [--json]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from core.atomic_files import read_json
from core.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, LineReporter, config_from, ctrl_c_requests_stop
from core.config import RNNConfig
from core.sweeps.record import SweepStatus, Trial, TrialState
from core.sweeps.spec import MAX_TRIALS, SweepSpec, default_cpus_per_trial, parse_vary


def spec_from(arguments: argparse.Namespace) -> SweepSpec:
    """The sweep the flags ask for: a --spec file, or the base config's flags with --vary and --seeds."""
    if arguments.spec is not None:
        given = [f"--{field.name.replace('_', '-')}" for field in fields(RNNConfig)
                 if getattr(arguments, field.name) is not None]
        given += [flag for flag, value in (("--vary", arguments.vary), ("--seeds", arguments.seeds),
                                           ("--cpus-per-trial", arguments.cpus_per_trial)) if value]
        if given:
            raise ValueError(f"--spec cannot be combined with {', '.join(given)}; put them in the spec file")
        try:
            content = read_json(arguments.spec)
        except (OSError, ValueError) as error:
            raise ValueError(f"--spec {arguments.spec}: cannot be read ({error})") from None
        return SweepSpec.from_dict(content)
    base = config_from(arguments)
    axes = tuple(parse_vary(text, base) for text in arguments.vary)
    seeds = tuple(arguments.seeds) if arguments.seeds else (base.seed,)
    cpus = arguments.cpus_per_trial if arguments.cpus_per_trial is not None else default_cpus_per_trial()
    return SweepSpec(base=base, axes=axes, seeds=seeds, cpus_per_trial=cpus)


# A trial gets a line once it reaches one of these.
REPORTED_STATES = (TrialState.COMPLETE, TrialState.FAILED, TrialState.CACHED)


class SweepReporter(LineReporter):
    """A progress bar over all epochs of the sweep on a terminal; a line per finished trial otherwise."""

    def __init__(self, show_bar: bool, quiet: bool = False):
        super().__init__(show_bar, quiet)
        self.reported: dict[str, str] = {}

    def __call__(self, update) -> None:
        if self.show_bar:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=update.epochs_total, unit="epoch", file=sys.stderr, leave=False,
                                desc=f"sweep {update.sweep_id}")
            self.bar.update(update.epochs_done - self.bar.n)
            states = [trial.state for trial in update.trials]
            self.bar.set_postfix(done=states.count(TrialState.COMPLETE) + states.count(TrialState.CACHED),
                                 failed=states.count(TrialState.FAILED), trials=len(states))
        for trial in update.trials:
            if trial.state in REPORTED_STATES and self.reported.get(trial.run_id) != trial.state:
                self.reported[trial.run_id] = trial.state
                self.write(_trial_line(trial))


def _trial_line(trial: Trial) -> str:
    values = ", ".join(f"{name}={value}" for name, value in trial.values.items())
    accuracy = trial.validation_accuracy
    shown = f"best validation accuracy {accuracy:.2%}" if accuracy is not None else ""
    error = f" {trial.error}" if trial.error else ""
    return f"Trial {trial.run_id} ({values}): {trial.state} {shown}{error}".rstrip()


def command_sweep(arguments: argparse.Namespace) -> int:
    from core.data.mnist import load_mnist
    from core.runs.store import RunStore
    from core.sweeps.cluster_check import RayUnavailable, check_cluster, join_environment
    from core.sweeps.driver import run_sweep
    from core.sweeps.ray_connect import check_address
    from core.sweeps.record import sweep_dir

    spec = spec_from(arguments)  # ValueError on a bad flag or spec: reported by main()
    max_trials = arguments.max_trials if arguments.max_trials is not None else MAX_TRIALS
    if max_trials < 1:
        raise ValueError(f"--max-trials={max_trials} is out of range; allowed 1 or more")
    trial_count = len(spec.expand(max_trials))  # refuses too many trials before any data is loaded
    address = check_address(arguments.address or os.environ.get("RAY_ADDRESS"))
    if address:
        # This process is the driver: Ray reads the authentication mode from its environment when it
        # starts, and an explicit address never turns token authentication on by itself.
        os.environ.update(join_environment(address))
        try:
            check_cluster(address)  # each way of failing in one line, in seconds, before MNIST loads
        except RayUnavailable as error:
            print(f"python -m core sweep: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    store = RunStore(arguments.runs_dir)
    data = load_mnist(arguments.data, progress=lambda text: print(text, flush=True))
    print(f"Sweep {spec.fingerprint()}: {trial_count} trials, {spec.cpus_per_trial} CPU(s) each", flush=True)

    reporter = SweepReporter(show_bar=sys.stderr.isatty() and not arguments.json)
    # A second Ctrl-C leaves at once; the trials that finished are kept either way.
    stopping = "Stopping: cancelling unfinished trials, keeping finished ones (Ctrl-C again to quit now)..."
    try:
        with ctrl_c_requests_stop(stopping) as stop_requested:
            info = run_sweep(store, spec, data, address=address, max_trials=max_trials,
                             on_update=reporter, should_stop=stop_requested.is_set)
    except RayUnavailable as error:
        print(f"python -m core sweep: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        reporter.close()

    states = [Trial.from_dict(trial).state for trial in info["trials"]]
    counts = {state: states.count(state) for state in sorted(set(states))}
    folder = sweep_dir(store.root, info["sweep_id"]).resolve()
    print(f"Sweep {info['sweep_id']} {info['status']}: "
          + ", ".join(f"{count} {state}" for state, count in counts.items()) + f" (record in {folder})")
    if arguments.json:
        print(json.dumps({"sweep_id": info["sweep_id"], "status": info["status"], "counts": counts,
                          "sweep_dir": str(folder), "runs_dir": str(store.root.resolve()),
                          "trials": info["trials"]}))  # as written to sweep_status.json
    return 0 if info["status"] == SweepStatus.COMPLETE else EXIT_FAILED


def command_sweeps(arguments: argparse.Namespace) -> int:
    from core.runs.store import RunStore
    from core.sweeps.record import list_sweeps, sweeps_root

    store = RunStore(arguments.runs_dir)
    records, damaged = list_sweeps(store.root)
    rows = []
    for record in records:
        rows.append({"sweep_id": record.sweep_id, "status": record.status, "trials": len(record.trials),
                     "complete": record.count(TrialState.COMPLETE, TrialState.CACHED),
                     "failed": record.count(TrialState.FAILED),
                     "varied": ",".join(record.spec.varied), "started_at": record.started_at,
                     "problem": ""})
    rows += [{"sweep_id": name, "status": SweepStatus.DAMAGED, "problem": problem} for name, problem in damaged.items()]
    if arguments.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"No sweeps under {sweeps_root(store.root).resolve()}")
        return 0
    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False, na_rep="-"))
    return 0
