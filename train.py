"""Search LSTM architectures for MNIST with a genetic algorithm: the `galstm` command, run
from a checkout (galstm_torch/cli.py).

    python train.py ga.pop_size=20 ga.generations=40
    python train.py ga=article data.root=../shared/data
    python train.py --multirun ga.mutation_rate=0.01,0.05,0.1
"""
from galstm_torch.cli import main

if __name__ == "__main__":
    main()
