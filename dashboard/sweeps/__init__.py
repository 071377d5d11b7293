"""The Sweeps page's pieces: its sidebar form, which sweep it shows (and Runs' sweep filter), and the
figures of what a sweep found."""
