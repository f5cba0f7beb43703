"""Where trainings run: the serial executor (this process), a local pool of workers, Ray,
the batched engine (a group in one padded model) and the graphs engine (a group as CUDA
graphs on streams); what each can do is declared in ``registry.py``."""
