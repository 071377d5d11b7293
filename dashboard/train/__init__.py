"""The Train page's pieces: its sidebar form, which run and job it shows, how a training ended, and
its training curves."""
