"""The Hidden states page's pieces: which image, its playback's panels, its sections and their figures."""
