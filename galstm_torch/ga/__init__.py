"""The search, by concern: the loop (search/), the strategies that propose populations
(strategies/), the model-guided picks (guide/), the Pareto math (pareto/), what a genome
costs and scores (fidelity/), and the genome encoding and operators (genome/)."""
