"""The model files a run writes: best_model.pt, final_model.pt, their schema, and the
standard exports (ONNX, torch.export)."""
