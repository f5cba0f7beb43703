"""What a run keeps on disk: tables, checkpoints, resume checks, the run directory, model exports."""
