"""Which faces each epoch sees, in which order, and whether as chip or pipeline re-crop.

Every draw comes from the epoch's generator, so a resumed run repeats them exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from ..contract import age_band


def group_weights(groups: list[int] | np.ndarray, power: float) -> np.ndarray:
    """Per-face sampling weights ``count(group) ** -power``, normalised to sum to 1.

    ``power`` 1 draws every group (e.g. age band) equally often, 0.5 halfway (in log terms)
    between that and the data's own mix, 0 leaves the mix as it is.
    """
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True,
                                   return_counts=True)
    w = counts[inverse].astype(np.float64) ** -power
    return w / w.sum()


def sampling_weights(ages: np.ndarray, balance_age: float) -> torch.Tensor | None:
    """Weights by age band (:func:`group_weights`), or None for a plain shuffle."""
    if not balance_age:
        return None
    return torch.from_numpy(group_weights([age_band(int(a)) for a in ages], balance_age))


def epoch_order(n: int, weights: torch.Tensor | None, g: torch.Generator) -> np.ndarray:
    """The ``n`` face indices of one epoch: a permutation, or (with ``weights``) as many
    draws with replacement."""
    if weights is None:
        return torch.randperm(n, generator=g).numpy()
    return torch.multinomial(weights, n, replacement=True, generator=g).numpy()


def mix_recrops(chips: np.ndarray, recrops: np.ndarray, found: np.ndarray, p: float,
                g: torch.Generator) -> np.ndarray:
    """Each face of a batch is its pipeline re-crop with probability ``p`` (if one was found),
    else the original chip. One draw per face from ``g``, so runs stay reproducible."""
    use = (torch.rand(len(chips), generator=g).numpy() < p) & found
    return np.where(use[:, None, None, None], recrops, chips)
