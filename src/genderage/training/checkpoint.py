"""Self-describing checkpoints, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .arch import GenderAgeNet, ModelConfig, build_model

FORMAT = "genderage-checkpoint-v1"


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a genderage checkpoint")
    return state


def model_from_checkpoint(state: dict, weights: str = "auto") -> GenderAgeNet:
    """Rebuild the network a checkpoint describes, in eval mode.

    Args:
        weights: ``"ema"``, ``"raw"`` or ``"auto"`` (the EMA weights when the run kept them).
    """
    model = build_model(ModelConfig.from_dict(state["model_config"]))
    key = "ema_state" if weights == "ema" or (weights == "auto" and state.get("ema_state")) \
        else "model_state"
    if state.get(key) is None:
        raise ValueError(f"checkpoint has no {key}")
    model.load_state_dict(state[key])
    return model.eval()


def average_checkpoints(states: list[dict], weights: str = "auto") -> dict:
    """A "model soup": one checkpoint whose weights are the mean of ``states``' weights.

    Averaging only makes sense for runs of one architecture that share a trajectory (e.g. a
    warm restart ``--init``-ed from the other run), where the weights lie in one basin.
    Floating-point tensors (weights and batch-norm statistics) are averaged, integer ones
    (batch counters) taken from the first state. The result carries the first state's
    metadata, the averaged weights as both ``model_state`` and ``ema_state``, no optimizer
    state, and ``soup_of``: how many states were averaged.

    Args:
        weights: which weights of each state: ``"ema"``, ``"raw"`` or ``"auto"`` (as
            :func:`model_from_checkpoint`).

    Raises:
        ValueError: fewer than two states, or states of different model configs.
    """
    if len(states) < 2:
        raise ValueError("a soup needs at least two checkpoints")
    if any(s["model_config"] != states[0]["model_config"] for s in states[1:]):
        raise ValueError("checkpoints of different model configs cannot be averaged")
    tensors = [model_from_checkpoint(s, weights).state_dict() for s in states]
    averaged = {}
    for name, first in tensors[0].items():
        if first.dtype.is_floating_point:
            averaged[name] = torch.stack([t[name] for t in tensors]).mean(0)
        else:
            averaged[name] = first.clone()
    keep = {k: v for k, v in states[0].items()
            if k not in ("model_state", "ema_state", "optimizer_state", "scheduler_state",
                         "format")}
    return {**keep, "model_state": averaged, "ema_state": averaged, "soup_of": len(states)}
