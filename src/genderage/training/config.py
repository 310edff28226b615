"""The training recipe and the network's description as data, validated on construction.

:class:`TrainConfig` fails on a typo before any data is loaded; :class:`ModelConfig` is
stored in every checkpoint and ONNX file. Neither needs torch.

A recipe is a JSON file (``configs/v1.json`` is the shipped model's) that
``genderage train --config`` reads; flags given on the command line override its values.
Every run writes the resolved config back into its folder (``run.json``).
"""

from __future__ import annotations

import json
import logging
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

AgeOutput = Literal["regression", "expectation", "mean"]
"""Which age estimate the contract's age column carries: the regression head, the
expectation of the age distribution, or their mean."""
Schedule = Literal["plateau", "cosine"]
Augment = Literal["none", "standard", "strong"]
Precision = Literal["auto", "bf16", "fp32"]
TeacherViews = Literal["clean", "augmented"]
"""What the teachers answer for: each clean training face once (cached), or the very
augmented batch the student sees, at every step (consistent teaching; costs the teachers'
forward passes at every step)."""

V2_RELEASE_COMMIT = "c860d97"
"""The commit that shipped model v2, the last one with distillation (``configs/v2.json``)."""

AGE_BINS = 121
"""Integer ages 0..120: the classes of the optional age-distribution head."""


def check_literals(obj) -> None:
    """Raise ``ValueError`` naming the field when a ``Literal``-typed field of dataclass
    ``obj`` holds a value outside its choices (e.g. ``age_output="expecation"``)."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        hint = hints[f.name]
        if typing.get_origin(hint) is Literal:
            choices = typing.get_args(hint)
            if getattr(obj, f.name) not in choices:
                raise ValueError(f"{f.name}={getattr(obj, f.name)!r}: choose from "
                                 f"{', '.join(map(repr, choices))}")


def known_fields(cls, values: dict, source: str) -> dict:
    """The entries of ``values`` that are fields of dataclass ``cls``; the others (fields of
    older versions, e.g. of a checkpoint written before an option was removed) are dropped
    with a warning naming them and ``source``."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        log.warning("%s: ignoring settings this version does not have: %s", source,
                    ", ".join(unknown))
    return {k: v for k, v in values.items() if k in names}


@dataclass
class TrainConfig:
    """Training settings. Defaults are the seed model card's unless docs/training.md says why.

    The loss is ``CE(gender) + age_weight * MSE(age / 100)``, plus
    ``ldl_weight * KL(age distribution || Gaussian(age, ldl_sigma))`` with
    ``age_distribution``. With ``teachers``, the gender and age-distribution targets are
    ``(1 - teacher_weight) * label + teacher_weight * the teachers' mean answer``
    (:mod:`.teachers`); ``teacher_gender_weight`` gives the gender target its own share, and
    ``teacher_views`` says whether the teachers answer the clean face or the augmented one.
    """

    data_dir: str = ""
    manifest: str = ""
    out_dir: str = "runs/train"
    arch: str = "card"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: Schedule = "plateau"
    plateau_patience: int = 5
    plateau_factor: float = 0.5
    warmup_epochs: float = 1.0       # cosine: linear warm-up from 0, then cosine decay to 0
    early_stop_patience: int = 10    # epochs; 0 disables early stopping
    age_weight: float = 2.0
    label_smoothing: float = 0.0
    age_distribution: bool = False   # add the age-distribution head (label distribution learning)
    ldl_weight: float = 1.0
    ldl_sigma: float = 2.0           # years; width of the Gaussian target distribution
    age_output: AgeOutput = "regression"
    augment: Augment = "standard"
    recrop: float = 0.0              # probability a training face is its pipeline re-crop
    recrop_detector: str | None = None
    ema_decay: float = 0.0           # 0 disables the weight EMA
    seed: int = 0
    checkpoint_every: int = 10
    precision: Precision = "auto"
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    max_steps: int = 0               # stop after this many optimizer steps (0 = no limit; tests)
    limit_train: int = 0             # use only the first N training rows (0 = all; tests)
    cache_dir: str | None = "runs/cache"
    threads: int = 0
    init: str | None = None          # start from this checkpoint's weights (EMA when kept)
    balance_age: float = 0.0         # draw faces with weight count(age band)^-p (0 = shuffle)
    sources: dict = field(default_factory=dict)  # other sources: name -> folder (data_dir: UTKFace)
    robust: float = 0.0              # probability of one real-photo degradation per face
    teachers: list = field(default_factory=list)  # ONNX files whose mean answer is distilled
    teacher_weight: float = 0.0      # share of the ensemble's soft targets in the targets
    teacher_gender_weight: float | None = None  # its share in the gender target (None: as above)
    teacher_views: TeacherViews = "clean"  # teachers answer the clean or the augmented face

    def __post_init__(self):
        check_literals(self)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "age_weight", "ldl_weight", "label_smoothing",
                     "balance_age", "max_steps", "limit_train", "threads", "early_stop_patience",
                     "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("recrop", "ema_decay", "robust", "teacher_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.ldl_sigma <= 0:
            raise ValueError(f"ldl_sigma must be positive, got {self.ldl_sigma}")
        if self.teacher_gender_weight is not None and not 0 <= self.teacher_gender_weight <= 1:
            raise ValueError(f"teacher_gender_weight must be in [0, 1], got "
                             f"{self.teacher_gender_weight}")
        if bool(self.teachers) != (self.teacher_weight > 0):
            raise ValueError("teachers and teacher_weight go together: teachers="
                             f"{self.teachers!r}, teacher_weight={self.teacher_weight}")
        if self.teacher_views != "clean" and not self.teachers:
            raise ValueError(f"teacher_views={self.teacher_views!r} needs teachers")
        if self.teachers and not self.age_distribution:
            raise ValueError("teachers need age_distribution=True (they teach the age "
                             "distribution)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "train config") -> TrainConfig:
        if values.get("distill_alpha"):
            raise ValueError(f"{source}: distill_alpha={values['distill_alpha']}: gender "
                             f"distillation was removed after genderage 0.2 (it lost to training "
                             f"without it, docs/training.md); model v2's recipe runs at commit "
                             f"{V2_RELEASE_COMMIT}")
        return cls(**known_fields(cls, values, source))

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """A recipe file; its ``train_config`` entry when it is a run's ``run.json``."""
        values = json.loads(Path(path).read_text())
        return cls.from_dict(values.get("train_config", values), str(path))


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; stored in every checkpoint.

    Args:
        arch: the registered variant's name.
        widths: output channels of the five conv blocks.
        separable: depthwise-separable convs after the stem.
        hidden: width of the shared classifier layer.
        age_distribution: an extra head, a softmax over ``AGE_BINS`` integer ages.
        age_output: what the contract's age column carries (see :data:`AgeOutput`).
        mean, std: input normalisation inside the graph, ``(x - mean) / std``.
        stage_blocks: a residual trunk instead (``arch.residual_trunk``): basic blocks per
            stage, one stage per width after the first; empty = the card's plain trunk.
    """

    arch: str = "card"
    widths: tuple[int, ...] = (32, 64, 128, 256, 512)
    separable: bool = False
    hidden: int = 128
    age_distribution: bool = False
    age_output: AgeOutput = "regression"
    mean: float = 0.5
    std: float = 0.25
    stage_blocks: tuple[int, ...] = ()

    def __post_init__(self):
        check_literals(self)
        if len(self.widths) < 2 or min(self.widths) < 1 or self.hidden < 1:
            raise ValueError(f"widths {self.widths} / hidden {self.hidden}: need at least two "
                             f"positive widths and a positive hidden size")
        if self.age_output != "regression" and not self.age_distribution:
            raise ValueError(f"age_output={self.age_output!r} needs age_distribution=True")
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "model config") -> ModelConfig:
        d = known_fields(cls, d, source)
        d["widths"] = tuple(d["widths"])
        d["stage_blocks"] = tuple(d.get("stage_blocks", ()))
        return cls(**d)

    def describe(self) -> str:
        """The architecture in words (the model card's description)."""
        w = self.widths
        if self.stage_blocks:
            return (f"a residual network: 3x3 stride-2 convolutions to {w[0]} and {w[1]} "
                    f"channels, then basic blocks {self.stage_blocks} at widths {w[1:]}, "
                    f"global average pooling, classifier Linear({w[-1]},{self.hidden}) and the "
                    f"gender, age" + (" and age-distribution" if self.age_distribution else "")
                    + " heads")
        conv = "depthwise-separable" if self.separable else "plain 3x3"
        blocks = ", ".join(f"{a}->{b}" for a, b in zip((3, *w[:-1]), w))
        return (f"{len(w)} conv blocks ({blocks}; the first with stride 2, then max-pooling, "
                f"global average pooling at the end) with {conv} convolutions, BatchNorm and "
                f"ReLU, shared classifier Dropout(0.5)-Linear({w[-1]},{self.hidden})-ReLU-"
                f"Dropout(0.3), gender head Linear({self.hidden},2), age head "
                f"Linear({self.hidden},1)"
                + (f", age-distribution head Linear({self.hidden},{AGE_BINS})"
                   if self.age_distribution else ""))
