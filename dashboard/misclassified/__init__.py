"""The Misclassified page's pieces: the gallery of test images and the figures above it."""
