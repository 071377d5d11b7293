"""The command line, `python -m core`.

- main: main, build_parser (every command's flags; exit codes in common)
- train: command_train, command_runs
- sweeps: command_sweep, command_sweeps, spec_from
- common: EXIT_* codes, add_config_flags, config_from, ctrl_c_requests_stop, LineReporter

Import from the modules; this package's own import loads none of them.
"""
