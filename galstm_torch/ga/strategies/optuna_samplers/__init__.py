"""Optuna's samplers as strategies (TPE, NSGA-II), sharing the study rebuilt each generation
from the evaluator's history (study.py). Optuna is an optional extra."""
