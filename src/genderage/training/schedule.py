"""Learning-rate schedules: the seed card's ReduceLROnPlateau, or per-step cosine decay."""

from __future__ import annotations

import math

import torch

from .config import TrainConfig


def cosine_lr(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Learning rate at optimizer ``step`` (0-based): linear warm-up, then cosine to 0."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class LearningRate:
    """Sets the optimizer's learning rate: before every step (cosine) or after every
    validation (plateau). Its state is the plateau scheduler's, saved in checkpoints."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
        self.optimizer, self.cfg = optimizer, cfg
        self.total_steps = steps_per_epoch * cfg.epochs
        self.warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience)

    def before_step(self, step: int) -> None:
        if self.cfg.schedule == "cosine":
            for group in self.optimizer.param_groups:
                group["lr"] = cosine_lr(step, self.total_steps, self.warmup_steps, self.cfg.lr)

    def after_validation(self, monitored_loss: float) -> None:
        if self.cfg.schedule == "plateau":
            self.plateau.step(monitored_loss)

    @property
    def current(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return self.plateau.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.plateau.load_state_dict(state)
