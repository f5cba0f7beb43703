"""galstm-torch: a genetic algorithm that searches LSTM classifier architectures."""

__version__ = "0.1.0"

from .export import load_model  # noqa: E402,F401  (galstm_torch.load_model(path))


def __getattr__(name: str):  # galstm_torch.search, imported on first use (it loads Hydra)
    if name == "search":
        from .api import search

        return search
    raise AttributeError(f"module 'galstm_torch' has no attribute {name!r}")
