"""What a genome scored: the evaluator (the cache and the budget), rungs and racing."""
