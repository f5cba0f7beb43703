"""What a person watches: TensorBoard, figures, progress bars and the report."""
