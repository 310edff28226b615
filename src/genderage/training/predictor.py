"""Run a checkpoint like an ONNX model: same raw outputs, same decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..attribute import AttributeBatch, decode_outputs
from ..preprocess import to_input
from .arch import ContractModule
from .checkpoint import checkpoint_preprocessing, load_checkpoint, model_from_checkpoint


class CheckpointModel:
    """A checkpoint with the :class:`genderage.attribute.AttributeModel` interface (fp32)."""

    def __init__(self, path: str | Path, weights: str = "auto", flip_tta: bool = False):
        self.path = Path(path)
        self.flip_tta = flip_tta
        self.state = load_checkpoint(self.path)
        self.preprocessing = checkpoint_preprocessing(self.state)
        self.module = ContractModule(model_from_checkpoint(self.state, weights), flip_tta).eval()
        self.output_names = ["output"] + (["age_probs"] if self.module.net.age_dist_head else [])
        self.temperature = 1.0
        self.age_interval = None

    @torch.no_grad()
    def run(self, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
        chunks = [self.module(torch.from_numpy(x[i:i + batch_size]))
                  for i in range(0, len(x), batch_size)]
        return {name: torch.cat([c[k] for c in chunks]).numpy()
                for k, name in enumerate(self.output_names)}

    def predict(self, faces: np.ndarray) -> AttributeBatch:
        out = self.run(to_input(faces, self.preprocessing))
        return decode_outputs(out["output"], out.get("age_probs"), self.temperature,
                              self.age_interval)
