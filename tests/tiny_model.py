"""A tiny random-weight attribute model with the real contract, for tests without the shipped one.

Input ``input`` float32 [N,3,112,112]; outputs ``output`` [N,3] and ``age_probs`` [N,121];
dynamic batch. Deterministic (seeded). Needs torch (the ``[train]`` extra).
"""

from __future__ import annotations

import warnings
from pathlib import Path


def build_tiny_model(path: Path, seed: int = 0) -> Path:
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(2), nn.Flatten())
            self.head = nn.Linear(64, 3)
            self.age = nn.Linear(64, 121)

        def forward(self, x):
            h = self.features(x)
            main = self.head(h)
            # Keep the age output in a plausible 0..1 range (age / 100).
            main = torch.cat([main[:, :2] * 4, torch.sigmoid(main[:, 2:])], dim=1)
            return main, torch.softmax(self.age(h), dim=1)

    axes = {"input": {0: "n"}, "output": {0: "n"}, "age_probs": {0: "n"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is fine here
        torch.onnx.export(Tiny().eval(), torch.rand(2, 3, 112, 112), str(path),
                          input_names=["input"], output_names=["output", "age_probs"],
                          dynamic_axes=axes, dynamo=False)
    return path
