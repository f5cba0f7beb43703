"""Where trainings run: this process, a local pool of workers, Ray, or the batched engine."""
