"""Self-describing checkpoints, written atomically."""

from __future__ import annotations

from pathlib import Path

import torch

from ..contract import DEFAULT_PREPROCESSING, Preprocessing
from ..outputs import replacing
from .arch import GenderAgeNet, build_model
from .config import ModelConfig

FORMAT = "genderage-checkpoint-v1"


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file + rename)."""
    with replacing(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


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


def checkpoint_preprocessing(state: dict) -> Preprocessing:
    """How the checkpoint's model expects its input; checkpoints written before this was
    stored were trained with the defaults."""
    stored = state.get("preprocessing")
    return DEFAULT_PREPROCESSING if stored is None else Preprocessing(**stored)
