"""TensorBoard HParams: one session per evaluated genome, so the dashboard can sort and
filter architectures.

The dashboard shows one trial per run folder, and fills a metric column only from a scalar
with that metric's tag in the same folder. So each genome gets its own folder,
``tb/hparams/<n_lstm>-<n_dense>-<units...>/``, holding the hparams summaries (written with
the low-level ``summary.hparams`` API, not ``add_hparams``, which adds a time-named
sub-folder) and one scalar per metric. The run's own scalars stay in ``tb/`` itself.
"""
from __future__ import annotations

from pathlib import Path

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from galstm_torch.ga.fidelity.rungs import Row
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.training.architecture import Architecture, format_compact, gene_names, slot_names

METRICS = ("hparam/fitness", "hparam/val_acc", "hparam/test_acc", "hparam/params",
           "hparam/seconds")


def session_name(compact: "tuple[int, ...] | list[int]") -> str:
    """A folder name without brackets or commas (they upset globbing tools)."""
    return "-".join(str(int(v)) for v in compact)


def genome_hparams(arch: Architecture, space: SearchSpace) -> dict:
    """Layer counts and the units of every slot (0 where the layer is absent); in
    space=extended also the training genes: the learning-rate step, the dropout rates and
    each block's BatchNorm (0 where the block is absent)."""
    lstm = list(arch.lstm_units) + [0] * (space.max_lstm_layers - len(arch.lstm_units))
    dense = list(arch.dense_units) + [0] * (space.max_dense_layers - len(arch.dense_units))
    hp = {"genome": format_compact(arch.compact), "n_lstm": len(arch.lstm_units),
          "n_dense": len(arch.dense_units),
          **dict(zip(slot_names(len(lstm), len(dense)), lstm + dense))}
    if arch.genes is not None:
        absent = [0] * (space.max_dense_layers - len(arch.dense_units))
        rates = [*arch.block_dropout(0.0), *absent]
        norms = [*map(int, arch.block_batchnorm), *absent]
        names = gene_names(space.max_dense_layers)
        hp.update(zip(names, [arch.genes.lr_step, arch.lstm_dropout, *rates, *norms]))
    return hp


def _set_status(session_end: Summary, status: int) -> None:
    """torch's hparams() always ends a session with success; rewrite its plugin data."""
    plugin_data = session_end.value[0].metadata.plugin_data
    content = HParamsPluginData.FromString(plugin_data.content)
    content.session_end_info.status = status
    plugin_data.content = content.SerializeToString()


class HParamsLog:
    """Writes each genome's session once, the first time it is evaluated."""

    def __init__(self, root: Path, space: SearchSpace) -> None:
        self.root, self.space = root, space
        # On resume, genomes that already have a session keep it (their metrics are cached).
        self.seen: set[str] = {p.name for p in root.iterdir()} if root.is_dir() else set()
        # The same declared domains in every folder, so every session's experiment summary
        # is identical (the plugin reads whichever it finds first).
        self.domains = {"n_lstm": list(range(1, space.max_lstm_layers + 1)),
                        "n_dense": list(range(1, space.max_dense_layers + 1)),
                        "status": ["ok", "failed"]}

    def add(self, row: Row, generation: int) -> None:
        name = session_name(row.arch.compact)
        if name in self.seen:
            return
        self.seen.add(name)
        values = (row.fitness, row.val_acc, row.test_acc, float(row.params), row.seconds)
        metrics = dict(zip(METRICS, values))
        hp = {**genome_hparams(row.arch, self.space), "status": row.status}
        experiment, start, end = hparams(hp, metrics, hparam_domain_discrete=self.domains)
        if row.status != "ok":  # the dashboard can then filter failed trials out
            _set_status(end, api_pb2.STATUS_FAILURE)
        with SummaryWriter(log_dir=str(self.root / name)) as writer:
            file_writer = writer._get_file_writer()  # the summaries go in this very folder
            for summary in (experiment, start, end):
                file_writer.add_summary(summary)
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, generation)
