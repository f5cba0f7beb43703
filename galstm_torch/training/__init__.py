"""One training: data, the model of a genome, the trainer, devices, threads and seeds."""
