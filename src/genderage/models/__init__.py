"""Model files shipped inside the package.

``genderage.onnx`` is the fp32 attribute model; ``genderage.int8.onnx``, when present, is the
same model quantised to int8 by ``tools/quantize_model.py`` (it records the SHA-256 of the fp32
file it was made from, so a stale int8 file is recognised and not used).
"""

import hashlib
from functools import lru_cache
from pathlib import Path

DEFAULT_MODEL = Path(__file__).with_name("genderage.onnx")
INT8_MODEL = Path(__file__).with_name("genderage.int8.onnx")
PRECISIONS = ("int8", "fp32")


def default_model_path(precision: str = "fp32") -> Path | None:
    """The shipped attribute model of that precision, or ``None`` if this build ships none."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    path = INT8_MODEL if precision == "int8" else DEFAULT_MODEL
    return path if path.is_file() else None


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def int8_matches_fp32() -> bool:
    """Whether the shipped int8 model exists and was quantised from the shipped fp32 file."""
    if not (INT8_MODEL.is_file() and DEFAULT_MODEL.is_file()):
        return False
    return _quantized_from(str(INT8_MODEL), INT8_MODEL.stat().st_mtime_ns) == \
        _sha256_cached(str(DEFAULT_MODEL), DEFAULT_MODEL.stat().st_mtime_ns)


# Every GenderAge() asks; the answers are cached per file and modification time.
@lru_cache(maxsize=4)
def _quantized_from(path: str, mtime_ns: int) -> str | None:
    from ..onnx_runtime import create_session

    session = create_session(path, optimize=False)
    return session.get_modelmeta().custom_metadata_map.get("genderage.quantized_from_sha256")


@lru_cache(maxsize=4)
def _sha256_cached(path: str, mtime_ns: int) -> str:
    return file_sha256(path)
