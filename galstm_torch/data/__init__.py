"""The data a search trains on: MNIST's IDX files, your own tensor files, and their splits."""
