"""Exponential moving average of a model's weights."""

from __future__ import annotations

import copy

import torch


class EMA:
    """Exponential moving average of weights and BatchNorm buffers.

    The decay warms up as ``min(decay, (1 + step) / (10 + step))``: with a fixed 0.999 the
    random initial weights would still carry 29% of the average after 1,200 steps.
    """

    def __init__(self, model, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for e, m in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(m.detach(), alpha=1 - decay)
            else:
                e.copy_(m)
