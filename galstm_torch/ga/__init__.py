"""The search: genomes, operators, the fitness cache, rungs, proposals, Pareto fronts and the loop."""
