"""A tiny synthetic UTKFace: face-like 200x200 chips, planted duplicates and defects.

No dataset images are involved. Each chip gets its own random head position, colours and
background texture from its seed, so distinct chips stay far apart on the 32x32 thumbnails
the near-duplicate check compares (max NCC 0.874 over 150 seeds), while the planted
variants of one chip (re-encoded, re-cropped, watermarked, brighter) stay close to it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

SIZE = 200
AGES = ((4, 11, 15), (19, 23, 28), (31, 40, 47), (52, 60, 66), (71, 80, 95))
"""Ages used for singletons, three per age band of genderage.contract.AGE_BANDS."""
PER_STRATUM = 10
"""Distinct singleton chips per (gender, age band) stratum."""


def _smooth_noise(rng: np.random.Generator, cells: int, channels: int = 3) -> np.ndarray:
    noise = rng.normal(size=(cells, cells, channels)).astype(np.float32)
    return cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC).reshape(SIZE, SIZE, -1)


def chip(seed: int) -> np.ndarray:
    """A face-like RGB uint8 ``[200, 200, 3]`` chip: textured background, hair, shaded head."""
    rng = np.random.default_rng(seed)
    background = _smooth_noise(rng, 5) * 50 + _smooth_noise(rng, 25) * 12 + rng.uniform(60, 190, 3)
    img = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    cx, cy = 100 + int(rng.integers(-14, 15)), 108 + int(rng.integers(-12, 13))
    w, h = int(rng.integers(52, 72)), int(rng.integers(68, 88))
    hair = tuple(int(v) for v in rng.integers(10, 200, 3))
    skin = tuple(int(v) for v in rng.integers(70, 235, 3))
    d.ellipse([cx - w - 8, cy - h - 14, cx + w + 8, cy + h // 3], fill=hair)
    d.ellipse([cx - w, cy - h + 10, cx + w, cy + h], fill=skin)
    eye_y, eye_dx = cy - int(rng.integers(10, 30)), int(rng.integers(18, 32))
    for side in (-1, 1):
        ex = cx + side * eye_dx
        d.ellipse([ex - 9, eye_y - 5, ex + 9, eye_y + 5], fill=(250, 250, 250))
        d.ellipse([ex - 4, eye_y - 4, ex + 4, eye_y + 4], fill=(40, 30, 20))
        brow_tilt = int(rng.integers(-3, 4))
        d.line([ex - 12, eye_y - 14 + brow_tilt, ex + 12, eye_y - 14], fill=hair, width=4)
    d.line([cx, eye_y + 8, cx + int(rng.integers(-6, 7)), cy + 20],
           fill=tuple(int(v * 0.7) for v in skin), width=3)
    mouth_y = cy + int(rng.integers(32, 50))
    d.chord([cx - 22, mouth_y - 10, cx + 22, mouth_y + 10], 0, 180, fill=(150, 40, 50))
    shading = 1 + 0.2 * _smooth_noise(rng, 3, channels=1)
    out = cv2.GaussianBlur(np.asarray(img, np.float32) * shading, (0, 0), 1.2)
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def recrop(rgb: np.ndarray, px: int = 6) -> np.ndarray:
    """Cut ``px`` pixels off the top and resize back to 200x200 (a slightly different crop)."""
    return cv2.resize(rgb[px:], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def watermark(rgb: np.ndarray) -> np.ndarray:
    """Semi-transparent white text over the bottom of the image, as stock sites add."""
    base = Image.fromarray(rgb).convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).text((12, 168), "(c) photo", fill=(255, 255, 255, 128),
                                 font=ImageFont.load_default(size=24))
    return np.asarray(Image.alpha_composite(base, overlay).convert("RGB"))


def brighten(rgb: np.ndarray, factor: float = 1.1) -> np.ndarray:
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(rgb)).enhance(factor))


def near_copies(original_jpeg: bytes, recrop_px: int = 6) -> dict[str, bytes]:
    """The near-duplicate variants of one encoded chip, each encoded as a JPEG file."""
    rgb = decode(original_jpeg)
    return {"requality": jpeg(rgb, 60), "recrop": jpeg(recrop(rgb, recrop_px)),
            "watermark": jpeg(watermark(rgb)), "brighter": jpeg(brighten(rgb))}


def utk_name(age: int, utk_gender: int, race: int, serial: int) -> str:
    """A UTKFace file name; ``utk_gender`` is UTKFace's code (0 male, 1 female)."""
    return f"{age}_{utk_gender}_{race}_20170101{serial:09d}.jpg.chip.jpg"


@dataclass
class SyntheticUTKFace:
    root: Path
    usable: list[str]             # files with good names and decodable images, sorted
    groups: dict[str, list[str]]  # planted duplicate groups, original first, exact copy second
    defects: dict[str, str]       # file -> expected Defect.kind
    hidden: list[str]             # OS metadata files the scan must ignore


# (utk_gender, age, race) of each planted group's members, in the order of
# [original, exact copy, requality, recrop, watermark, brighter].
_GROUPS = {
    "age_conflict": (1, [(0, 30, 0), (0, 31, 0), (0, 30, 0), (0, 30, 0), (0, 30, 0), (0, 30, 0)]),
    "gender_conflict": (2, [(1, 45, 1), (1, 45, 1), (0, 45, 1)] + [(1, 45, 1)] * 3),
    "consistent": (3, [(0, 60, 2)] * 6),
}


def build(root: Path) -> SyntheticUTKFace:
    """Write the synthetic dataset under ``root`` (a folder that must not exist yet)."""
    root.mkdir(parents=True)
    serial = 0
    usable: list[str] = []

    def put(name: str, data: bytes) -> str:
        (root / name).write_bytes(data)
        return name

    seed = 100
    for utk_gender in (0, 1):
        for band_ages in AGES:
            for k in range(PER_STRATUM):
                serial += 1
                name = utk_name(band_ages[k % 3], utk_gender, k % 5, serial)
                usable.append(put(name, jpeg(chip(seed))))
                seed += 1

    groups: dict[str, list[str]] = {}
    for label, (group_seed, members) in _GROUPS.items():
        original = jpeg(chip(group_seed))
        contents = [original, original, *near_copies(original).values()]
        names = []
        for (utk_gender, age, race), data in zip(members, contents):
            serial += 1
            names.append(put(utk_name(age, utk_gender, race, serial), data))
        groups[label] = names
        usable += names

    good = jpeg(chip(999))
    defects = {
        put("39_1_20170116174525125.jpg.chip.jpg", good): "malformed_name",     # no race field
        put("55_0_0_20170116232725357jpg.chip.jpg", good): "malformed_name",    # no dot before jpg
        put("24_0_1_20170116220224657", good): "malformed_name",                # no extension
        put("2x_0_1_20170116220224658.jpg.chip.jpg", good): "malformed_name",   # non-numeric age
        put("33_0_1_20170101000000001.jpg.chip.jpg", b"not a jpeg\n" * 40): "unreadable",
        put("34_1_2_20170101000000002.jpg.chip.jpg", good[: len(good) // 2]): "unreadable",
        put("35_0_3_20170101000000003.jpg.chip.jpg", b""): "unreadable",
    }
    hidden = [put(".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(64))]
    return SyntheticUTKFace(root, sorted(usable), groups, defects, hidden)
