"""galstm-torch: a genetic algorithm that searches LSTM classifier architectures."""

__version__ = "0.1.0"

from .export import load_model  # noqa: E402,F401  (galstm_torch.load_model(path))
