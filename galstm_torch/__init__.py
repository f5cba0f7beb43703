"""galstm-torch: a genetic algorithm that searches LSTM classifier architectures."""

__version__ = "0.1.0"
