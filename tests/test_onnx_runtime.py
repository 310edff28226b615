"""One onnxruntime session factory: the attribute model and the detectors get the same
threads, providers and no-spinning setting, and a file that is not a model is a one-line error
naming it."""

from __future__ import annotations

import pytest

from genderage.attribute import AttributeModel
from genderage.cli import main
from genderage.detect import DetectorError
from genderage.detect.session import open_session
from genderage.onnx_runtime import ModelLoadError, RuntimeOptions, create_session


def settings(session) -> tuple[int, int, str, list[str]]:
    options = session.get_session_options()
    return (options.intra_op_num_threads, options.inter_op_num_threads,
            options.get_session_config_entry("session.intra_op.allow_spinning"),
            session.get_providers())


def test_model_and_detector_sessions_get_the_same_settings(model_path):
    expected = (2, 1, "0", ["CPUExecutionProvider"])
    assert settings(create_session(model_path, threads=2)) == expected
    assert settings(AttributeModel(model_path, RuntimeOptions(threads=2)).session) == expected
    assert settings(open_session(model_path.read_bytes(), threads=2)) == expected
    assert settings(AttributeModel(model_path).session)[0] == 0  # onnxruntime's default


def test_a_file_that_is_not_a_model_names_the_file(tmp_path, capsys):
    bad = tmp_path / "notes.onnx"
    bad.write_text("not a model")
    with pytest.raises(ModelLoadError, match="notes.onnx: cannot load as an ONNX model"):
        create_session(bad)
    with pytest.raises(DetectorError, match="^P-Net: cannot load as an ONNX model"):
        open_session(b"not a model", name="P-Net")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    assert main(["predict", "--model", str(bad), str(photo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"genderage predict: error: {bad}: cannot load as an ONNX model (")
    assert len(err.splitlines()) == 1
