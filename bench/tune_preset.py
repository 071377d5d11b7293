"""How the `tuned` preset was chosen: candidates ranked by validation accuracy only, never test.

    python -m bench.tune_preset                      # the candidates below, seeds 10 11
    python -m bench.tune_preset --seeds 10 11 12 13 14 15 16 17 --only "batch 32, readout init 0.1" \
        "batch 32, readout init 0.1, Adam beta_2 0.99"
                                                     # the final comparison that chose `tuned`

Tuning seeds (10, 11, ...) are kept apart from the seeds of the reported table (0, 1, 2), and
the ranking is by the mean best validation accuracy (the 5,000 validation images), so the test
set plays no part in the choice. Every candidate is a vanilla tanh RNN with 128 units and
10 epochs. Runs go through the CLI and its run cache, like bench/accuracy_table.py.

Round 1 (the candidates below down to batch 16, seeds 10-13) settled on batch 32, cosine lr
0.001, clip 1, keep best (98.26 / 98.20 on seeds 10 / 11). Round 2 tried changes on top of it, most
as one-off patches of core.nn.training_loop (not config fields), on seeds 10 and 11, none clearly better:
a linear warm-up of 275-1,719 iterations (97.62-98.04), Adam beta_2 0.99 (98.08-98.30), beta_1 0.8
(98.18 / 98.26), an exponential moving average of the weights (+0.00-0.02), random 1-2 pixel shifts
(97.80-98.20), an identity recurrent initialisation (98.04 / 98.12), label smoothing 0.1 (98.12 /
98.18), dropout on the last hidden state 0.1-0.3 (means 97.97-98.07), input dropout 0.1 (98.11),
standardised pixels (97.82), AdamW weight decay 0.01 / 0.05 / 0.1 (97.96 / 98.17 / 98.23).
Round 3, mean over seeds 10-13 (the round-1 winner: 98.16): readout init stddev 0.1 (98.26),
Adam beta_2 0.99 (98.17), both (98.34), both with beta_2 0.98 (98.17), readout init 0.1 with AdamW
weight decay 0.1 (98.32), an auxiliary loss on the readout of the last 3-27 hidden states at
weight 0.3-1 (98.11-98.22), Lion at lr 0.0003 (97.90), Nadam (98.02), averaging the last three
epochs' weights (98.10), recurrent kernel x0.7 (97.72), input kernel x2 (98.00), batch 24 at lr
0.0008 (98.12). The top three, again on seeds 14-17: both (98.40), readout init 0.1 with weight
decay (98.32), readout init 0.1 alone (98.31). So `tuned` is the round-1 winner with readout init
stddev 0.1 and Adam beta_2 0.99: 98.37 over seeds 10-17. (Round 3's one-off script also printed
test accuracy on the tuning seeds; the choice did not follow it, which would have picked readout init
0.1 with weight decay: 98.16 there against 98.03 for the choice.)
"""

from __future__ import annotations

import argparse
import shlex
import sys

from bench.accuracy_table import mean_and_std, train_once


def cosine(learning_rate: float, batch_size: int = 100, clip: float = 1.0, keep_best: bool = True) -> list[str]:
    """CLI flags for Adam with a cosine-decayed learning rate peaking at learning_rate."""
    flags = ["--learning-rate", f"{learning_rate:g}", "--learning-rate-schedule", "cosine",
             "--gradient-clip-norm", f"{clip:g}", "--batch-size", str(batch_size)]
    return flags + (["--keep-best-weights", "true"] if keep_best else [])


# In the order they were tried; the first screen (seeds 10, 11) set the direction of the next.
CANDIDATES: dict[str, list[str]] = {
    "tutorial": [],
    "first guess: cosine lr 0.003, clip 1, keep best": cosine(0.003),
    "cosine lr 0.001, clip 1": cosine(0.001),
    "cosine lr 0.0015, clip 1": cosine(0.0015),
    "cosine lr 0.002, clip 1": cosine(0.002),
    "cosine lr 0.0025, clip 1": cosine(0.0025),
    "cosine lr 0.005, clip 1": cosine(0.005),
    "cosine lr 0.003, no clip": cosine(0.003, clip=0.0),
    "cosine lr 0.002, clip 0.5": cosine(0.002, clip=0.5),
    "rmsprop cosine lr 0.001, clip 1": ["--optimizer", "rmsprop", *cosine(0.001)],
    "cosine lr 0.005, clip 1, batch 200": cosine(0.005, batch_size=200),
    # Smaller batches came out ahead (more updates in the same 10 epochs); explore around them.
    "cosine lr 0.002, clip 1, batch 50": cosine(0.002, batch_size=50),
    "cosine lr 0.001, clip 1, batch 64": cosine(0.001, batch_size=64),
    "cosine lr 0.0015, clip 1, batch 64": cosine(0.0015, batch_size=64),
    "cosine lr 0.0007, clip 1, batch 32": cosine(0.0007, batch_size=32),
    "cosine lr 0.001, clip 1, batch 32": cosine(0.001, batch_size=32),
    "cosine lr 0.0015, clip 1, batch 32": cosine(0.0015, batch_size=32),
    "cosine lr 0.001, no clip, batch 32": cosine(0.001, batch_size=32, clip=0.0),
    "cosine lr 0.001, clip 5, batch 32": cosine(0.001, batch_size=32, clip=5.0),
    "cosine lr 0.001, clip 0.5, batch 32": cosine(0.001, batch_size=32, clip=0.5),
    "cosine lr 0.0005, clip 1, batch 16": cosine(0.0005, batch_size=16),
    "cosine lr 0.0007, clip 1, batch 16": cosine(0.0007, batch_size=16),
    # Round 3: on top of the round-1 winner, cosine lr 0.001, clip 1, batch 32.
    "batch 32, readout init 0.1": [*cosine(0.001, batch_size=32), "--output-init-stddev", "0.1"],
    "batch 32, Adam beta_2 0.99": [*cosine(0.001, batch_size=32), "--adam-beta-2", "0.99"],
    "batch 32, readout init 0.1, Adam beta_2 0.99":
        [*cosine(0.001, batch_size=32), "--output-init-stddev", "0.1", "--adam-beta-2", "0.99"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[10, 11])
    parser.add_argument("--only", nargs="+", default=None, help="run only candidates whose names end so")
    parser.add_argument("--runs-dir", default=None, help="passed to the CLI; default RNN_RUNS_DIR or ./runs")
    arguments = parser.parse_args(argv)

    ranking = []
    for name, flags in CANDIDATES.items():
        if arguments.only and not any(name.endswith(ending) for ending in arguments.only):
            continue
        validation = []
        for seed in arguments.seeds:
            summary = train_once(flags, seed, arguments.runs_dir)
            validation.append(summary["best_val_accuracy"])
            print(f"{name} seed {seed}: best validation {summary['best_val_accuracy']:.4f} "
                  f"({'cached' if summary['cached'] else 'trained'})", flush=True)
        ranking.append((mean_and_std(validation), name, flags))

    print()
    print(f"Ranked by best validation accuracy, mean ± std over seeds {', '.join(map(str, arguments.seeds))}")
    print()
    print("| candidate | validation accuracy % | flags |")
    print("|---|---|---|")
    for (mean, std), name, flags in sorted(ranking, reverse=True):
        print(f"| {name} | {100 * mean:.2f} ± {100 * std:.2f} | `{shlex.join(flags) or '(defaults)'}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
