"""Sweeps: many configs trained at once as Ray tasks, each trial an ordinary run in the store.

- spec: SweepSpec, Axis, parse_vary, MAX_TRIALS (what a sweep trains; its fingerprint is its id)
- record: SweepRecord, read_sweep, list_sweeps, write_sweep_status (spec.json, sweep_status.json)
- driver: run_sweep (the driver: trials as Ray tasks, their progress, stop and failures)
- ray_connect: connect, check_address, RayUnavailable (starting or joining Ray for a driver)
- trial: train_trial, receive_run (one trial on both sides of Ray)
- launch: launch_sweep, stop_sweep, read_launch (a driver process started from the dashboard)
- estimate: estimate_sweep (trial count, cache hits and time before launching)
- results: trials_table, seed_summary, trial_curves (what a sweep found, as tables)

Import from the modules; this package's own import loads none of them (and none imports Ray until
a sweep runs).
"""
