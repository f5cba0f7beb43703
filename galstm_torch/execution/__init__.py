"""Where trainings run: the serial executor (this process), a local pool of workers, Ray,
the batched engine (a group in one padded model) and the graphs engine (a group as CUDA
graphs on streams). Each module declares what its executor can do (its ``CAPABILITIES``,
``capabilities.py``), and ``registry.py`` lists them."""
