"""The Runs page's pieces: one run's actions (open, download, name, retrain, delete) and the figures of
several runs side by side."""
