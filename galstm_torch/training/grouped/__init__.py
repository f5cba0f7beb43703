"""Training a group of genomes at once: padded into one batched model, or as CUDA graphs
on streams (one lane per genome)."""
