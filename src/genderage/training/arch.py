"""GenderAgeNet: the model card's five-block CNN, and a registry of variants.

The card lists five conv blocks (3->32 stride 2, 32->64 + max-pool, 64->128 + max-pool,
128->256 + max-pool, 256->512 + global average pool), each with BatchNorm + ReLU, a shared
classifier Dropout(0.5) -> Linear(512,128) -> ReLU -> Dropout(0.3), a gender head
Linear(128,2) and an age head Linear(128,1). It also says "MobileNet-like" and 1,230,851
parameters; plain 3x3 convolutions in that layout give 1,636,611 (docs/training.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from ..contract import AGE_SCALE
from .config import AGE_BINS, ModelConfig


def _conv_bn_relu(cin: int, cout: int, stride: int = 1, separable: bool = False) -> nn.Sequential:
    if separable:
        return nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN, identity (or 1x1 conv-BN) shortcut, ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def residual_trunk(widths: tuple[int, ...], stage_blocks: tuple[int, ...]) -> nn.Sequential:
    """Stem (3x3 stride 2 to ``widths[0]``, 3x3 stride 2 to ``widths[1]``: 112 -> 28), then
    one stage of ``stage_blocks[i]`` basic blocks per width ``widths[1 + i]``, each stage
    after the first halving the resolution (28, 14, 7, 4), then global average pooling."""
    if len(widths) != len(stage_blocks) + 1:
        raise ValueError(f"widths {widths} need one more entry than stage_blocks {stage_blocks}")
    layers = [_conv_bn_relu(3, widths[0], stride=2), _conv_bn_relu(widths[0], widths[1], stride=2)]
    cin = widths[1]
    for i, (width, n) in enumerate(zip(widths[1:], stage_blocks)):
        for k in range(n):
            layers.append(BasicBlock(cin, width, stride=2 if i > 0 and k == 0 else 1))
            cin = width
    layers.append(nn.AdaptiveAvgPool2d(1))
    return nn.Sequential(*layers)


class GenderAgeNet(nn.Module):
    """Multi-task CNN: ``[N,3,112,112]`` RGB in [0,1] -> gender logits and age.

    Args:
        cfg: the architecture; see :class:`ModelConfig`.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        if cfg.stage_blocks:
            self.features = residual_trunk(w, cfg.stage_blocks)
        else:
            blocks = [_conv_bn_relu(3, w[0], stride=2)]
            for i in range(1, len(w)):
                blocks.append(_conv_bn_relu(w[i - 1], w[i], separable=cfg.separable))
                blocks.append(nn.MaxPool2d(2) if i < len(w) - 1 else nn.AdaptiveAvgPool2d(1))
            self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(w[-1], cfg.hidden),
                                        nn.ReLU(inplace=True), nn.Dropout(0.3))
        self.gender_head = nn.Linear(cfg.hidden, 2)
        self.age_head = nn.Linear(cfg.hidden, 1)
        self.age_dist_head = nn.Linear(cfg.hidden, AGE_BINS) if cfg.age_distribution else None
        self.register_buffer("ages", torch.arange(AGE_BINS, dtype=torch.float32), persistent=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.cfg.mean) / self.cfg.std
        return self.classifier(torch.flatten(self.features(x), 1))

    def forward_head(self, h: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"gender_logits": self.gender_head(h), "age_reg": self.age_head(h).squeeze(1)}
        if self.age_dist_head is not None:
            out["age_logits"] = self.age_dist_head(h)
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.forward_head(self.forward_features(x))

    def contract_outputs(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Raw head outputs -> (``output`` [N,3], and ``age_probs`` [N,121] if present)."""
        age = out["age_reg"].float()
        if self.age_dist_head is not None:
            probs = torch.softmax(out["age_logits"].float(), dim=1)
            expectation = (probs * self.ages).sum(1) / AGE_SCALE
            if self.cfg.age_output == "expectation":
                age = expectation
            elif self.cfg.age_output == "mean":
                age = 0.5 * (age + expectation)
            main = torch.cat([out["gender_logits"].float(), age[:, None]], dim=1)
            return main, probs
        return (torch.cat([out["gender_logits"].float(), age[:, None]], dim=1),)


class ContractModule(nn.Module):
    """Wraps a :class:`GenderAgeNet` so its forward returns the ONNX contract's outputs.

    With ``flip_tta`` the prediction is the average over the image and its mirror image
    (logits, age and age distribution are averaged).
    """

    def __init__(self, net: GenderAgeNet, flip_tta: bool = False):
        super().__init__()
        self.net = net
        self.flip_tta = flip_tta

    def forward(self, x: torch.Tensor):
        outs = self.net.contract_outputs(self.net(x))
        if self.flip_tta:
            flipped = self.net.contract_outputs(self.net(torch.flip(x, dims=[3])))
            outs = tuple(0.5 * (a + b) for a, b in zip(outs, flipped))
        return outs


def with_age_output(net: GenderAgeNet, age_output: str) -> GenderAgeNet:
    """The same weights, with the contract output carrying another age estimate."""
    if age_output == net.cfg.age_output:
        return net
    new = GenderAgeNet(replace(net.cfg, age_output=age_output))
    new.load_state_dict(net.state_dict())
    return new.eval()


_REGISTRY: dict[str, Callable[..., ModelConfig]] = {}


def register(fn: Callable[..., ModelConfig]) -> Callable[..., ModelConfig]:
    _REGISTRY[fn.__name__] = fn
    return fn


@register
def card(**kw) -> ModelConfig:
    """The card's layout with plain 3x3 convolutions (1.64M parameters)."""
    return ModelConfig(arch="card", **kw)


@register
def card_separable(**kw) -> ModelConfig:
    """The card's layout with depthwise-separable convs after the stem ("MobileNet-like")."""
    return ModelConfig(arch="card_separable", separable=True, **kw)


@register
def resnet_s(**kw) -> ModelConfig:
    """A deeper residual network at about the card's cost: 16 3x3 convolutions (plus 3 1x1
    shortcuts) in basic blocks at 28, 14, 7 and 4 px; 211.5M multiply-adds per face against
    the card's 234.0M (docs/training.md, "Architecture at equal cost")."""
    return ModelConfig(arch="resnet_s", widths=(32, 48, 96, 192, 256), stage_blocks=(2, 2, 2, 1),
                       **kw)


@register
def card_small(**kw) -> ModelConfig:
    """Half-width card layout, for tests and quick experiments."""
    return ModelConfig(arch="card_small", widths=(16, 32, 64, 128, 256), hidden=64, **kw)


def list_archs() -> list[str]:
    return sorted(_REGISTRY)


def model_config(arch: str, **kw) -> ModelConfig:
    if arch not in _REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; choose from {list_archs()}")
    return _REGISTRY[arch](**kw)


def build_model(cfg: ModelConfig) -> GenderAgeNet:
    return GenderAgeNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
