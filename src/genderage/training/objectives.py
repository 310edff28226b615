"""The training loss: a weighted sum of named terms, each logged on its own.

``CE(gender) + age_weight * MSE(age / 100)``, plus ``ldl_weight * KL`` between the predicted
age distribution and a Gaussian around the true age when the model has that head. With a
teacher ensemble's answers in the targets (``teacher_weight`` w > 0), the gender target is
``(1 - w) * one-hot + w * P_teachers(gender)`` (w: ``teacher_gender_weight`` when set) and the
distribution target
``(1 - w) * Gaussian + w * P_teachers(age)``; the regression head keeps the true age. A new
term is a field of :class:`Targets` and one more weighted entry in :func:`compute_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..contract import AGE_SCALE
from .config import AGE_BINS, TrainConfig


@dataclass
class Targets:
    """What a batch is trained towards.

    Attributes:
        gender: int64 ``[N]`` model gender indices (0 female, 1 male).
        age: float32 ``[N]`` ages in years.
        teacher_gender: float32 ``[N, 2]`` the teachers' mean gender probabilities, or None.
        teacher_age: float32 ``[N, AGE_BINS]`` their mean age distribution, or None.
    """

    gender: torch.Tensor
    age: torch.Tensor
    teacher_gender: torch.Tensor | None = None
    teacher_age: torch.Tensor | None = None


def age_targets(ages: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian label distributions over integer ages 0..120, ``[N, AGE_BINS]``."""
    grid = torch.arange(AGE_BINS, dtype=torch.float32, device=ages.device)
    d = torch.exp(-0.5 * ((grid[None] - ages[:, None].float()) / sigma) ** 2)
    return d / d.sum(1, keepdim=True)


def compute_loss(out: dict[str, torch.Tensor], t: Targets, cfg: TrainConfig
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its unweighted parts (``gender_loss``, ``age_loss``, ``ldl_loss``,
    and ``loss``, the total) for the model's raw head outputs ``out``."""
    w = cfg.teacher_weight if t.teacher_gender is not None else 0.0
    wg = w if cfg.teacher_gender_weight is None or not w else cfg.teacher_gender_weight
    gender_target = t.gender
    if wg:
        one_hot = F.one_hot(t.gender, 2).float()
        gender_target = (1 - wg) * one_hot + wg * t.teacher_gender.float()
    terms = {"gender_loss": F.cross_entropy(out["gender_logits"].float(), gender_target,
                                            label_smoothing=cfg.label_smoothing),
             "age_loss": F.mse_loss(out["age_reg"].float(), t.age / AGE_SCALE)}
    total = terms["gender_loss"] + cfg.age_weight * terms["age_loss"]
    if "age_logits" in out:
        logp = F.log_softmax(out["age_logits"].float(), dim=1)
        age_target = age_targets(t.age, cfg.ldl_sigma)
        if w:
            age_target = (1 - w) * age_target + w * t.teacher_age.float()
        terms["ldl_loss"] = F.kl_div(logp, age_target, reduction="batchmean")
        total = total + cfg.ldl_weight * terms["ldl_loss"]
    parts = {name: value.item() for name, value in terms.items()}
    parts["loss"] = total.item()
    return total, parts
