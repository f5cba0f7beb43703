"""The strategies: what proposes the next population (GA, NSGA-II, random, Optuna's
samplers, DEHB), each a Strategy subclass the registry finds."""
