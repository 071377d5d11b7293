"""Runs: a trained config in its own folder, the store of all of them, and training one into it.

- format: the run folder's contract (file names, statuses, config.json and status.json), RunRecord, RunError
- files: the reader and writer of each data file (weights, histories, predictions, analysis)
- store: RunStore (listing, opening verified, analysis, deleting, pruning)
- verification: VerificationRecord (the sha256 checks a listing remembers)
- names: clean_run_name, read_run_name, write_run_name (a run's name, given by the user)
- train: train_run (a config into the store, under its lock)
- job, job_queue: Job, JobSnapshot, JobManager (the dashboard's queue of trainings)
- compare: differing_fields, best_of_other_cells, epoch_histories, stack_histories

Import from the modules; this package's own import loads none of them.
"""
