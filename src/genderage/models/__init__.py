"""Model files shipped inside the package."""

from pathlib import Path

DEFAULT_MODEL = Path(__file__).with_name("genderage.onnx")


def default_model_path() -> Path | None:
    """The shipped attribute model, or ``None`` if this build ships none."""
    return DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None
