"""Population-batched models: many genomes with the same number of LSTM layers in one module.

Every weight carries a leading population dimension P. Each genome's units are padded to the
largest in its group, and a fixed 0/1 mask multiplies every weight in the forward pass, so a
padded weight gets exactly zero gradient, stays exactly zero under Adam, and a padded unit's
output is exactly zero. Genomes with fewer dense blocks skip the extra blocks (the block's
output is its input, selected per genome). Genome g's slices never meet another genome's in
any operation, so one Adam over the stacked tensors is per-genome Adam with the same step
count, eps and bias correction. The LSTM is PyTorch's cell written with batched matmuls.
"""
from __future__ import annotations

from typing import Optional, cast

import torch
from torch import nn

from galstm_torch.training.model import LSTMClassifier

GATES = (0, 1, 3, 2)  # PyTorch stores gates i, f, g, o; here i, f, o, g (one sigmoid slice)
N_FEATURES, N_CLASSES = 28, 10


def _gate_rows(t: torch.Tensor, h: int, hmax: int) -> torch.Tensor:
    """[4h, ...] in PyTorch's gate order -> [4hmax, ...] in ours, zero-padded per gate."""
    out = t.new_zeros((4 * hmax, *t.shape[1:]))
    for slot, gate in enumerate(GATES):
        out[slot * hmax : slot * hmax + h] = t[gate * h : (gate + 1) * h]
    return out


def _ungate_rows(t: torch.Tensor, h: int, hmax: int) -> torch.Tensor:
    """The inverse of _gate_rows: [4hmax, ...] -> [4h, ...] in PyTorch's order."""
    parts: list[Optional[torch.Tensor]] = [None] * 4
    for slot, gate in enumerate(GATES):
        parts[gate] = t[slot * hmax : slot * hmax + h]
    return torch.cat(cast("list[torch.Tensor]", parts))  # GATES is a permutation: all filled


def _pad(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    out = t.new_zeros(shape)
    out[tuple(slice(0, s) for s in t.shape)] = t
    return out


class BatchedClassifier(nn.Module):
    """The LSTMClassifiers of a group of genomes, stacked. Built from the per-genome models,
    so the initial weights are exactly those the sequential engine trains."""

    head_w: nn.Parameter  # registered by _add (the other stacked weights are read by name)
    head_b: nn.Parameter

    def __init__(self, models: list[LSTMClassifier]) -> None:
        super().__init__()
        n_lstm = {len(m.lstms) for m in models}
        if any(m.arch.genes is not None for m in models):
            raise ValueError("a batched group trains the article's genomes only (one dropout, "
                             "BatchNorm in every block, trainer.lr); space=extended's training "
                             "genes need an executor that trains genomes one by one")
        if len(n_lstm) != 1:
            raise ValueError(f"a batched group needs one LSTM layer count, got {sorted(n_lstm)}")
        self.archs = [m.arch for m in models]
        self.widths = [max(m.lstm_layers()[i].hidden_size for m in models) for i in range(n_lstm.pop())]
        self.n_dense = max(len(m.dense) for m in models)
        self.dmax = max(max(m.arch.dense_units) for m in models)
        _, drop, norm = models[0].dense_layers()[0]
        bn = _article_norm(norm)
        assert bn.momentum is not None  # LSTMClassifier always sets one (None: cumulative mean)
        self.bn_momentum, self.bn_eps, self.p_drop = bn.momentum, bn.eps, drop.p
        with torch.no_grad():
            for i in range(len(self.widths)):
                self._stack_lstm(models, i)
            for k in range(self.n_dense):
                self._stack_dense(models, k)
            self._add("head_w", [_pad(m.head.weight.T, (self.dmax, N_CLASSES)) for m in models],
                      [_pad(torch.ones(m.head.in_features, N_CLASSES), (self.dmax, N_CLASSES))
                       for m in models])
            self._add("head_b", [m.head.bias.view(1, -1) for m in models], None)

    def _add(self, name: str, values: list[torch.Tensor], masks: "list[torch.Tensor] | None") -> None:
        """A stacked parameter and, when some entries are padding, its 0/1 mask buffer."""
        self.register_parameter(name, nn.Parameter(torch.stack(values).detach().clone()))
        self.register_buffer(name + "_mask", None if masks is None else torch.stack(masks))

    def _stack_lstm(self, models: list[LSTMClassifier], i: int) -> None:
        hmax, in_max = self.widths[i], self.widths[i - 1] if i else N_FEATURES
        tensors: dict[str, list[torch.Tensor]] = {}
        for m in models:
            lstm = m.lstm_layers()[i]
            h, rows = lstm.hidden_size, _gate_rows(torch.ones(4 * lstm.hidden_size), lstm.hidden_size, hmax)
            entries = {
                "w_ih": (_pad(_gate_rows(lstm.weight_ih_l0, h, hmax).T, (in_max, 4 * hmax)),
                         _pad(torch.ones(lstm.input_size, 1), (in_max, 1)) * rows),
                "w_hh": (_pad(_gate_rows(lstm.weight_hh_l0, h, hmax).T, (hmax, 4 * hmax)),
                         _pad(torch.ones(h, 1), (hmax, 1)) * rows),
                "b_ih": (_gate_rows(lstm.bias_ih_l0, h, hmax).view(1, -1), rows.view(1, -1)),
                "b_hh": (_gate_rows(lstm.bias_hh_l0, h, hmax).view(1, -1), rows.view(1, -1)),
            }
            for key, pair in entries.items():
                tensors.setdefault(key, []).append(pair[0])
                tensors.setdefault(key + "_mask", []).append(pair[1])
        for key in ("w_ih", "w_hh", "b_ih", "b_hh"):  # separate biases, as Adam sees them
            self._add(f"lstm{i}_{key}", tensors[key], tensors[key + "_mask"])

    def _stack_dense(self, models: list[LSTMClassifier], k: int) -> None:
        d, in_max = self.dmax, self.widths[-1] if k == 0 else self.dmax
        vecs: dict[str, list[torch.Tensor]]
        stats: dict[str, list[torch.Tensor]]
        w, wm, vecs, units, stats = [], [], {"b": [], "bn_w": [], "bn_b": []}, [], {"rm": [], "rv": []}
        for m in models:
            if k < len(m.dense):  # a real block
                lin, _, norm = m.dense_layers()[k]
                bn = _article_norm(norm)
                assert bn.running_mean is not None and bn.running_var is not None  # tracked stats
                w.append(_pad(lin.weight.T, (in_max, d)))
                wm.append(_pad(torch.ones_like(lin.weight.T), (in_max, d)))
                for key, t in (("b", lin.bias), ("bn_w", bn.weight), ("bn_b", bn.bias)):
                    vecs[key].append(_pad(t.view(1, -1), (1, d)))
                units.append(_pad(torch.ones(1, lin.out_features), (1, d)))
                stats["rm"].append(_pad(bn.running_mean.view(1, -1), (1, d)))
                stats["rv"].append(_pad(bn.running_var.view(1, -1), (1, d)))
            else:  # a skipped block: all zero, never used
                w.append(torch.zeros(in_max, d))
                wm.append(torch.zeros(in_max, d))
                for key in vecs:
                    vecs[key].append(torch.zeros(1, d))
                units.append(torch.zeros(1, d))
                stats["rm"].append(torch.zeros(1, d))
                stats["rv"].append(torch.ones(1, d))
        self._add(f"dense{k}_w", w, wm)
        for key, values in vecs.items():
            self._add(f"dense{k}_{key}", values, units)
        self.register_buffer(f"dense{k}_rm", torch.stack(stats["rm"]).clone())
        self.register_buffer(f"dense{k}_rv", torch.stack(stats["rv"]).clone())
        self.register_buffer(f"dense{k}_active", torch.tensor([k < len(m.dense) for m in models]))

    def masked(self, name: str) -> torch.Tensor:
        """A parameter with its padding zeroed (multiplying also zeroes the padding's gradient)."""
        mask = getattr(self, name + "_mask")
        return getattr(self, name) if mask is None else getattr(self, name) * mask

    def _lstm(self, x: torch.Tensor, i: int) -> list[torch.Tensor]:
        """x: [P, B, T, in] per genome, or [B, T, in] shared by all genomes -> T x [P, B, H]."""
        w_ih, w_hh = self.masked(f"lstm{i}_w_ih"), self.masked(f"lstm{i}_w_hh")
        bias = self.masked(f"lstm{i}_b_ih") + self.masked(f"lstm{i}_b_hh")
        p, h = w_ih.shape[0], self.widths[i]
        b, t = x.shape[-3], x.shape[-2]
        if x.dim() == 3:
            xp = torch.matmul(x.reshape(b * t, -1), w_ih) + bias
        else:
            xp = torch.baddbmm(bias, x.reshape(p, b * t, -1), w_ih)
        # unbind/split (not indexing): one backward node each instead of a zero-filled
        # full-size gradient per slice, which made the backward quadratic in time steps.
        steps = xp.view(p, b, t, 4 * h).unbind(dim=2)
        hid = c = xp.new_zeros(p, b, h)
        out = []
        for x_t in steps:
            sig, g = torch.baddbmm(x_t, hid, w_hh).split([3 * h, h], dim=-1)
            i, f, o = sig.sigmoid().chunk(3, dim=-1)
            c = f * c + i * g.tanh()
            hid = o * c.tanh()
            out.append(hid)
        return out

    def _dense(self, x: torch.Tensor, k: int, drop: "torch.Tensor | None") -> torch.Tensor:
        """Dense(ReLU) -> Dropout -> BatchNorm with per-genome statistics; x: [P, B, in]."""
        z = torch.baddbmm(self.masked(f"dense{k}_b"), x, self.masked(f"dense{k}_w")).relu()
        if drop is not None:
            z = z * drop
        rm, rv = getattr(self, f"dense{k}_rm"), getattr(self, f"dense{k}_rv")
        if self.training:
            mean, var = z.mean(1, keepdim=True), z.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():
                n, m = z.shape[1], self.bn_momentum
                rm.mul_(1 - m).add_(mean.detach(), alpha=m)
                rv.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        else:
            mean, var = rm, rv
        z = (z - mean) * torch.rsqrt(var + self.bn_eps) * self.masked(f"dense{k}_bn_w") \
            + self.masked(f"dense{k}_bn_b")
        if k == 0:  # every genome has a first block
            return z
        return torch.where(getattr(self, f"dense{k}_active").view(-1, 1, 1), z, x)

    def forward(self, x: torch.Tensor, drop: "list[torch.Tensor] | None" = None) -> torch.Tensor:
        """Logits [P, B, 10]; drop holds one dropout multiplier [P, B, D] per dense block."""
        for i in range(len(self.widths)):
            out = self._lstm(x, i)
            x = torch.stack(out, dim=2) if i + 1 < len(self.widths) else out[-1]
        # x is now the last time step of the last LSTM: the only one that feeds the head
        for k in range(self.n_dense):
            x = self._dense(x, k, None if drop is None else drop[k])
        return torch.baddbmm(self.head_b, x, self.masked("head_w"))

    def l2_penalty(self) -> torch.Tensor:
        """Per genome, the sum of squares of its dense kernels: [P]."""
        # n_dense >= 1 (every Architecture has a dense block): a tensor, never the int 0
        return cast(torch.Tensor,
                    sum(self.masked(f"dense{k}_w").pow(2).sum(dim=(1, 2)) for k in range(self.n_dense)))

    @torch.no_grad()
    def load_into(self, g: int, model: LSTMClassifier) -> LSTMClassifier:
        """Copy genome g's trained weights and BatchNorm statistics into its own model."""
        for i, lstm in enumerate(model.lstm_layers()):
            h, hmax, n_in = lstm.hidden_size, self.widths[i], lstm.input_size
            lstm.weight_ih_l0.copy_(_ungate_rows(getattr(self, f"lstm{i}_w_ih")[g, :n_in].T, h, hmax))
            lstm.weight_hh_l0.copy_(_ungate_rows(getattr(self, f"lstm{i}_w_hh")[g, :h].T, h, hmax))
            lstm.bias_ih_l0.copy_(_ungate_rows(getattr(self, f"lstm{i}_b_ih")[g, 0], h, hmax))
            lstm.bias_hh_l0.copy_(_ungate_rows(getattr(self, f"lstm{i}_b_hh")[g, 0], h, hmax))
        for k, (lin, _, norm) in enumerate(model.dense_layers()):
            bn = _article_norm(norm)
            assert bn.running_mean is not None and bn.running_var is not None  # tracked stats
            lin.weight.copy_(getattr(self, f"dense{k}_w")[g, : lin.in_features, : lin.out_features].T)
            u = lin.out_features
            for t, name in ((lin.bias, "b"), (bn.weight, "bn_w"), (bn.bias, "bn_b"),
                            (bn.running_mean, "rm"), (bn.running_var, "rv")):
                t.copy_(getattr(self, f"dense{k}_{name}")[g, 0, :u])
        model.head.weight.copy_(self.head_w[g, : model.head.in_features].T)
        model.head.bias.copy_(self.head_b[g, 0])
        return model


def _article_norm(bn: "nn.BatchNorm1d | None") -> nn.BatchNorm1d:
    """A block's BatchNorm, which every article genome has (the constructor refuses others)."""
    if bn is None:
        raise ValueError("a batched group needs BatchNorm in every dense block")
    return bn
