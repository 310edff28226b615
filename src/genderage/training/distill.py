"""Knowledge distillation of gender: soft targets from a teacher ensemble, blended with labels.

The ensemble averages the probabilities of Cydral's gender network and v1's:
``p = w * p_cydral + (1 - w) * p_v1``. The weight ``w`` is chosen on the dev folds only (the
UTKFace val split and the AAF dev fold): the grid value with the best mean of the two gender
accuracies. The student's gender loss is
``(1 - alpha) * CE(labels) + alpha * CE(p, student)``, the second term the cross-entropy
against the soft targets (temperature 1: the teachers' probabilities as they are).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

WEIGHT_GRID = tuple(np.round(np.linspace(0, 1, 21), 2))


def ensemble(p_cydral: np.ndarray, p_v1: np.ndarray, w: float) -> np.ndarray:
    """Teacher-ensemble gender probabilities ``[N, 2]`` (female, male)."""
    return (w * p_cydral + (1 - w) * p_v1).astype(np.float32)


def choose_weight(dev_sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                  grid=WEIGHT_GRID) -> tuple[float, dict[float, float]]:
    """The Cydral weight with the best mean gender accuracy over the dev sets.

    Args:
        dev_sets: one ``(p_cydral [N,2], p_v1 [N,2], gender [N])`` per dev set.

    Returns:
        the chosen weight (the smallest on ties) and the mean accuracy at every grid value.
    """
    scores = {}
    for w in grid:
        scores[float(w)] = float(np.mean([(ensemble(pc, pv, w).argmax(1) == g).mean()
                                          for pc, pv, g in dev_sets]))
    best = max(scores.values())
    return min(w for w, s in scores.items() if s == best), scores


def gender_loss(logits: torch.Tensor, labels: torch.Tensor, soft: torch.Tensor | None,
                alpha: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """``(1 - alpha) * CE(labels) + alpha * CE(soft)``; plain CE when ``soft`` is None."""
    hard = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if soft is None or alpha == 0:
        return hard
    soft_ce = -(soft * F.log_softmax(logits, dim=1)).sum(1).mean()
    return (1 - alpha) * hard + alpha * soft_ce


def soft_targets(cfg, train_set, dev_sets) -> tuple[np.ndarray, dict]:
    """Soft gender targets ``[N_train, 2]`` for ``train_set`` and what was chosen.

    Teacher outputs come from :func:`training.teacher.teacher_outputs` (cached). The
    Cydral weight is ``cfg.distill_cydral_weight``, or chosen on ``dev_sets`` when None.
    """
    import logging

    from ..pipeline import resolve_model_path
    from .teacher import teacher_outputs

    log = logging.getLogger(__name__)
    v1 = cfg.teacher_v1 or str(resolve_model_path(None))
    t_train = {k: np.zeros((len(train_set.faces), 2), np.float32)
               for k in ("cydral_gender", "v1_gender")}
    sources = train_set.extra["source"]
    for source in dict.fromkeys(sources):  # cached per source
        mask = sources == source
        t = teacher_outputs(train_set.faces[mask], cfg.teacher_dir, v1, cfg.cache_dir)
        for k in t_train:
            t_train[k][mask] = t[k]
    info: dict = {"alpha": cfg.distill_alpha, "v1_model": v1, "teacher_dir": cfg.teacher_dir}
    w = cfg.distill_cydral_weight
    if w is None:
        devs = []
        for ds in dev_sets:
            t = teacher_outputs(ds.faces, cfg.teacher_dir, v1, cfg.cache_dir)
            devs.append((t["cydral_gender"], t["v1_gender"], ds.gender))
            info.setdefault("dev_accuracy", {})[str(ds.extra["source"][0])] = {
                "cydral": float((t["cydral_gender"].argmax(1) == ds.gender).mean()),
                "v1": float((t["v1_gender"].argmax(1) == ds.gender).mean())}
        w, scores = choose_weight(devs)
        info["weight_scores"] = scores
        log.info("teacher ensemble: Cydral weight %.2f chosen on the dev folds (mean acc %.4f)",
                 w, scores[w])
    info["cydral_weight"] = w
    soft = ensemble(t_train["cydral_gender"], t_train["v1_gender"], w)
    info["train_agreement_with_labels"] = float((soft.argmax(1) == train_set.gender).mean())
    return soft, info
