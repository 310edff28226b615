"""The model contract: the one place that states how pixels and labels map to the model.

Also the label vocabulary every layer shares: gender labels, UTKFace races, age bands.

ONNX input ``input``: float32 ``[N, 3, 112, 112]``, RGB, values in [0, 1], dynamic batch.
ONNX first output ``output``: ``[N, 3]`` = ``[logit_female, logit_male, age / 100]``.
"""

INPUT_SIZE = 112
"""Side of the square model input, in pixels."""

CHIP_SIZE = 200
"""Side of a UTKFace aligned chip; aligned crops are produced at this size, then resized."""

AGE_SCALE = 100.0
"""The model's age output is ``age_years / AGE_SCALE``."""

GENDER_LABELS = ("female", "male")
"""Model gender index -> label. Index 0 is female, index 1 is male."""

RACES = ("white", "black", "asian", "indian", "others")
"""UTKFace race label index -> name (the file names' third field)."""

AGE_BANDS = ((0, 17), (18, 29), (30, 49), (50, 69), (70, 200))
"""Inclusive age ranges that splits are stratified by and metrics are reported by."""

UTKFACE_GENDER_TO_INDEX = {0: 1, 1: 0}
"""UTKFace file names use 0 = male, 1 = female: the opposite of the model's index."""


def utkface_gender_to_index(utk_gender: int) -> int:
    """Map a UTKFace gender code (0 male, 1 female) to the model's index (0 female, 1 male)."""
    # Look the value up as is: int() would turn 0.7 into 0 (male) and accept "1".
    try:
        return UTKFACE_GENDER_TO_INDEX[utk_gender]
    except (KeyError, TypeError):
        raise ValueError(f"UTKFace gender must be 0 or 1, got {utk_gender!r}") from None


def gender_label(index: int) -> str:
    """Model gender index -> ``"female"`` / ``"male"``."""
    return GENDER_LABELS[index]


def gender_index(label: str) -> int:
    """``"female"`` / ``"male"`` -> model gender index."""
    return GENDER_LABELS.index(label)


def age_band(age: int) -> int:
    """Index into :data:`AGE_BANDS` (0-17, 18-29, 30-49, 50-69, 70+)."""
    for i, (lo, hi) in enumerate(AGE_BANDS):
        if lo <= age <= hi:
            return i
    raise ValueError(f"age {age} outside all bands")


def band_name(i: int) -> str:
    """Printable name of age band ``i``: ``"0-17"`` ... ``"70+"``."""
    lo, hi = AGE_BANDS[i]
    return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
