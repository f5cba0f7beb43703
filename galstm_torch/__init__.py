"""galstm-torch: a genetic algorithm that searches LSTM classifier architectures."""

__version__ = "0.1.0"

from galstm_torch.persist.models.export import load_model  # noqa: E402,F401  (galstm_torch.load_model(path))


def __getattr__(name: str):  # galstm_torch.search_sequences, imported on first use (Hydra)
    if name == "search_sequences":
        from galstm_torch.api import search_sequences

        return search_sequences
    raise AttributeError(f"module 'galstm_torch' has no attribute {name!r}")
