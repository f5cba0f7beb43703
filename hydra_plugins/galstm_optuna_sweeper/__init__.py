"""A Hydra sweeper that asks Optuna (4.x) for each job's overrides: ``hydra/sweeper=galstm_optuna``
(or ``hparams_search=optuna``). It maximises (or minimises) the value the task function
returns; see optuna_sweeper.py."""
