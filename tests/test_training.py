"""Train -> resume -> export -> evaluate on a handful of synthetic chips, in seconds."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from genderage.cli import main  # noqa: E402
from genderage.training.arch import (  # noqa: E402
    build_model,
    count_parameters,
    list_archs,
    model_config,
)
from genderage.training.checkpoint import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _write_chip(path, seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((200, 200), Image.BICUBIC).save(path, quality=90)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """32 distinct 200x200 chips with UTKFace names, and a split manifest."""
    root = tmp_path_factory.mktemp("tiny")
    data = root / "UTKFace"
    data.mkdir()
    for i in range(32):
        age, utk_gender, race = 5 + 3 * i, i % 2, i % 5
        _write_chip(data / f"{age}_{utk_gender}_{race}_2017011{i:011d}.jpg.chip.jpg", i)
    manifest = root / "split.csv"
    assert main(["data", "split", str(data), "--out", str(manifest), "--val-fraction", "0.25"]) == 0
    return data, manifest


def _train(data, manifest, out, *extra):
    return main(["train", "--data", str(data), "--manifest", str(manifest), "--out", str(out),
                 "--arch", "card_small", "--batch-size", "8", "--compute-precision", "fp32",
                 "--cache-dir", "", "--no-progress", "--threads", "1", *extra])


@pytest.mark.parametrize("arch", list_archs())
def test_every_registered_arch_runs_and_has_contract_outputs(arch):
    model = build_model(model_config(arch, age_distribution=True)).eval()
    out = model(torch.rand(2, 3, 112, 112))
    main_out, probs = model.contract_outputs(out)
    assert main_out.shape == (2, 3) and probs.shape == (2, 121)
    assert torch.allclose(probs.sum(1), torch.ones(2), atol=1e-5)
    assert count_parameters(model) > 0


def test_card_parameter_count_matches_the_card_layout():
    # Plain 3x3 convs in the card's layout: 1,636,611 parameters (the card claims 1,230,851).
    assert count_parameters(build_model(model_config("card"))) == 1_636_611


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_train_resume_matches_uninterrupted_run(tiny, tmp_path):
    data, manifest = tiny
    assert _train(data, manifest, tmp_path / "straight", "--epochs", "2", "--ema", "0.9",
                  "--age-distribution") == 0
    assert _train(data, manifest, tmp_path / "split", "--epochs", "1", "--ema", "0.9",
                  "--age-distribution") == 0
    assert _train(data, manifest, tmp_path / "split", "--epochs", "2", "--ema", "0.9",
                  "--age-distribution", "--resume") == 0
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key in ("model_state", "ema_state"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
    # Checkpoints describe themselves.
    assert a["model_config"]["arch"] == "card_small" and a["model_config"]["age_distribution"]
    assert a["train_config"]["batch_size"] == 8
    assert len(a["manifest_sha256"]) == 64
    history = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert (tmp_path / "straight" / "metrics.csv").read_text().startswith("epoch,")
    assert (tmp_path / "straight" / "learning_curves.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    data, manifest = tiny
    out = tmp_path_factory.mktemp("run")
    assert _train(data, manifest, out, "--epochs", "1", "--age-distribution") == 0
    return data, manifest, out / "last.pt"


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_init_starts_from_the_checkpoint_weights(trained, tmp_path, capsys):
    data, manifest, ckpt = trained
    source = load_checkpoint(ckpt)["model_state"]
    # lr 0: Adam leaves every parameter where --init put it (batch-norm statistics still move).
    assert _train(data, manifest, tmp_path / "warm", "--epochs", "1", "--age-distribution",
                  "--lr", "0", "--init", str(ckpt), "--age-weight", "1.5",
                  "--ldl-weight", "0.25", "--balance-age", "0.5") == 0
    assert _train(data, manifest, tmp_path / "cold", "--epochs", "1", "--age-distribution",
                  "--lr", "0") == 0
    warm = load_checkpoint(tmp_path / "warm" / "last.pt")
    cold = load_checkpoint(tmp_path / "cold" / "last.pt")
    names = [n for n in source if n.endswith(".weight")]
    assert names and all(torch.equal(warm["model_state"][n], source[n]) for n in names)
    assert not all(torch.equal(cold["model_state"][n], source[n]) for n in names)
    assert warm["train_config"]["init"] == str(ckpt)
    assert (warm["train_config"]["age_weight"], warm["train_config"]["ldl_weight"],
            warm["train_config"]["balance_age"]) == (1.5, 0.25, 0.5)
    # A checkpoint of another layout is refused with a message naming it.
    capsys.readouterr()
    assert _train(data, manifest, tmp_path / "bad", "--epochs", "1", "--init", str(ckpt)) != 0
    assert str(ckpt) in capsys.readouterr().err


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_onnx_warm_start_is_the_exported_model(trained, tmp_path):
    from genderage.attribute import AttributeModel
    from genderage.contract import META_PREPROCESSING, Preprocessing
    from genderage.data.split import read_manifest
    from genderage.evaluation.evaluate import load_faces_plain
    from genderage.preprocess import to_input, to_input_tensor
    from genderage.training.arch import ContractModule
    from genderage.training.onnx_init import load_onnx_weights, onnx_model_config

    data, manifest, ckpt = trained
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--out", str(onnx_path)]) == 0
    faces = load_faces_plain(data, read_manifest(manifest))
    net = build_model(onnx_model_config(str(onnx_path)))
    load_onnx_weights(net, str(onnx_path), faces)
    with torch.no_grad():
        got = ContractModule(net).eval()(to_input_tensor(torch.from_numpy(faces)))[0].numpy()
    want = AttributeModel(onnx_path).predict(faces).logits
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(want).max() > 1e-2  # not a model that answers zero to everything
    # in eval mode the identity BatchNorms hide their statistics: those of the first one are
    # the first convolution's on the faces as the model sees them (normalised in the graph)
    conv = next(m for m in net.features.modules() if isinstance(m, torch.nn.Conv2d))
    bn = next(m for m in net.features.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        z = conv((torch.from_numpy(to_input(faces)) - net.cfg.mean) / net.cfg.std)
    np.testing.assert_allclose(bn.running_mean.numpy(), z.mean((0, 2, 3)).numpy(), atol=1e-5)

    # a file made for another preprocessing than the training's is refused
    import onnx

    model = onnx.load(str(onnx_path))
    (stored,) = [p for p in model.metadata_props if p.key == META_PREPROCESSING]
    stored.value = Preprocessing(color="BGR").to_json()
    onnx.save(model, str(tmp_path / "bgr.onnx"))
    with pytest.raises(ValueError, match="BGR"):
        load_onnx_weights(build_model(onnx_model_config(str(onnx_path))),
                          str(tmp_path / "bgr.onnx"), faces)


@pytest.mark.parametrize("opset", [11, 17])
def test_export_contract_and_parity(trained, tmp_path, opset, capsys):
    import onnxruntime as ort

    data, manifest, ckpt = trained
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--out", str(onnx_path), "--opset", str(opset),
                 "--calibrate-data", str(data), "--calibrate-manifest", str(manifest)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity_max_abs_diff"] <= 1e-4
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "input" and inp.shape[1:] == [3, 112, 112]
    assert [o.name for o in sess.get_outputs()][:1] == ["output"]
    for n in (1, 5):  # dynamic batch
        out = sess.run(None, {"input": np.random.default_rng(n).random((n, 3, 112, 112),
                                                                         np.float32)})
        assert out[0].shape == (n, 3) and out[1].shape == (n, 121)
    meta = sess.get_modelmeta().custom_metadata_map
    contract = json.loads(meta["genderage.contract"])
    assert contract["input"]["color"] == "RGB" and contract["input"]["range"] == [0.0, 1.0]
    assert contract["output"]["columns"] == ["logit_female", "logit_male", "age/100"]
    assert float(meta["genderage.gender_temperature"]) > 0
    assert json.loads(meta["genderage.age_interval"])["coverage"] == 0.8
    # The preprocessing the checkpoint was trained with travels into the file.
    from genderage.attribute import AttributeModel
    from genderage.contract import DEFAULT_PREPROCESSING, Preprocessing
    assert load_checkpoint(ckpt)["preprocessing"]["template"] == DEFAULT_PREPROCESSING.template
    assert Preprocessing.from_json(meta["genderage.preprocessing"]) == DEFAULT_PREPROCESSING
    assert AttributeModel(onnx_path).preprocessing == DEFAULT_PREPROCESSING


def test_export_flip_tta_is_mirror_invariant(trained, tmp_path):
    import onnxruntime as ort

    _, _, ckpt = trained
    path = tmp_path / "tta.onnx"
    assert main(["export", str(ckpt), "--out", str(path), "--flip-tta"]) == 0
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 3, 112, 112), np.float32)
    a = sess.run(None, {"input": x})[0]
    b = sess.run(None, {"input": np.ascontiguousarray(x[..., ::-1])})[0]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_runtime_flip_tta_equals_the_baked_in_graph(trained, tmp_path):
    from genderage.attribute import AttributeModel

    _, _, ckpt = trained
    plain, baked = tmp_path / "plain.onnx", tmp_path / "tta.onnx"
    assert main(["export", str(ckpt), "--out", str(plain), "--age-output", "expectation"]) == 0
    assert main(["export", str(ckpt), "--out", str(baked), "--age-output", "expectation",
                 "--flip-tta"]) == 0
    faces = np.random.default_rng(1).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)
    runtime = AttributeModel(plain, flip_tta=True)
    x = np.random.default_rng(2).random((5, 3, 112, 112), np.float32)
    for name, value in AttributeModel(baked).run(x).items():
        np.testing.assert_allclose(runtime.run(x)[name], value, atol=1e-5, err_msg=name)
    a, b = runtime.predict(faces), AttributeModel(baked).predict(faces)
    np.testing.assert_allclose(a.gender_probs, b.gender_probs, atol=1e-5)
    np.testing.assert_allclose(a.age, b.age, atol=1e-3)
    # Mirroring the faces changes nothing with TTA on, and something without it.
    mirrored = np.ascontiguousarray(faces[:, :, ::-1])
    np.testing.assert_allclose(runtime.predict(mirrored).age, a.age, atol=1e-3)
    assert np.abs(AttributeModel(plain).predict(mirrored).age
                  - AttributeModel(plain).predict(faces).age).max() > 1e-3
    with pytest.raises(ValueError, match="already inside"):
        AttributeModel(baked, flip_tta=True)


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_evaluate_onnx_matches_checkpoint(trained, tmp_path):
    data, manifest, ckpt = trained
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--out", str(onnx_path)]) == 0
    for model, out in ((ckpt, tmp_path / "ev_ckpt"), (onnx_path, tmp_path / "ev_onnx")):
        assert main(["evaluate", str(model), "--data", str(data), "--manifest", str(manifest),
                     "--out", str(out)]) == 0
    a = json.loads((tmp_path / "ev_ckpt" / "metrics.json").read_text())
    b = json.loads((tmp_path / "ev_onnx" / "metrics.json").read_text())
    n_val = sum(line.split(",")[1] == "val" for line in manifest.read_text().splitlines()[1:])
    assert a["n"] == b["n"] == n_val
    assert a["gender"]["accuracy"] == b["gender"]["accuracy"]
    assert abs(a["age"]["mae"] - b["age"]["mae"]) < 1e-3
    for key in ("age_by_group", "by_race", "by_gender", "calibration"):
        assert key in b
    # gender per finer band of true age covers every face, with the same accuracy overall
    bands = b["gender_by_age_band"]
    assert sum(m["n"] for m in bands.values()) == b["n"]
    assert sum(m["n"] * m["accuracy"] for m in bands.values()) == \
        pytest.approx(b["n"] * b["gender"]["accuracy"])
    assert all(0 <= m["ece"] <= 1 for m in bands.values())
    for png in ("confusion_matrix", "age_pred_vs_true", "age_error_by_age", "reliability"):
        assert (tmp_path / "ev_onnx" / f"{png}.png").stat().st_size > 1000
    assert "| female |" in (tmp_path / "ev_onnx" / "report.md").read_text()
    assert "By true age band:" in (tmp_path / "ev_onnx" / "report.md").read_text()


CARD_EXAMPLE = textwrap.dedent("""
    import cv2
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(MODEL_PATH)
    img = cv2.imread(IMAGE_PATH)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (112, 112))
    img = img.astype(np.float32) / 255.0
    img = np.transpose(img, (2, 0, 1))
    img = np.expand_dims(img, axis=0)
    outputs = session.run(None, {"input": img})
    gender_logits = outputs[0][0][:2]
    age = outputs[0][0][2] * 100
    gender = "Female" if gender_logits[0] > gender_logits[1] else "Male"
    print(gender, repr(float(age)), repr(float(gender_logits[0])), repr(float(gender_logits[1])))
""")


def test_card_example_code_matches_library(trained, tmp_path):
    from genderage.attribute import AttributeModel
    from genderage.imageio import read_image
    from genderage.preprocess import resize_face, to_input

    data, _, ckpt = trained
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--out", str(onnx_path)]) == 0
    chip = next(data.iterdir())
    face_png = tmp_path / "face.png"  # a 112x112 aligned face: both resizes are the identity
    Image.fromarray(resize_face(read_image(chip))).save(face_png)
    script = f"MODEL_PATH = {str(onnx_path)!r}\nIMAGE_PATH = {str(face_png)!r}\n" + CARD_EXAMPLE
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    model = AttributeModel(onnx_path)
    raw = model.run(to_input(read_image(face_png)))["output"][0]
    pred = model.predict(read_image(face_png)[None])
    assert out[0] == ("Female" if raw[0] > raw[1] else "Male")
    assert pred.gender_probs[0].argmax() == (0 if out[0] == "Female" else 1)
    np.testing.assert_allclose([float(v) for v in out[1:]], [raw[2] * 100, raw[0], raw[1]],
                               rtol=1e-6)
    assert abs(pred.age[0] - float(out[1])) < 1e-3


def test_cosine_lr_warms_up_then_decays_to_zero():
    from genderage.training.schedule import cosine_lr

    lrs = [cosine_lr(s, 100, 10, 1e-3) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert cosine_lr(10, 100, 10, 1e-3) == pytest.approx(1e-3)    # the peak
    assert cosine_lr(55, 100, 10, 1e-3) == pytest.approx(5e-4)    # half way down
    assert cosine_lr(100, 100, 10, 1e-3) == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert cosine_lr(0, 10, 0, 1e-3) == pytest.approx(1e-3)       # no warm-up


def test_group_weights_golden():
    from genderage.training.sampling import group_weights

    # Three faces of race 0, one of race 4: full balance gives each race half the draws.
    np.testing.assert_allclose(group_weights([0, 0, 0, 4], 1.0), [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    np.testing.assert_allclose(group_weights([0, 0, 0, 4], 0.0), [0.25] * 4)
    w = group_weights([0, 0, 0, 4], 0.5)  # 3^-0.5 each for race 0, 1 for race 4
    np.testing.assert_allclose(w, np.array([3 ** -0.5] * 3 + [1]) / (3 ** 0.5 + 1))


def test_mix_recrops_swaps_in_found_recrops_only():
    from genderage.training.sampling import mix_recrops

    chips = np.zeros((64, 2, 2, 3), np.uint8)
    recrops = np.full((64, 2, 2, 3), 9, np.uint8)
    found = np.arange(64) % 2 == 0
    g = torch.Generator().manual_seed(0)
    assert (mix_recrops(chips, recrops, found, 1.0, g)[found] == 9).all()
    assert (mix_recrops(chips, recrops, found, 1.0, g)[~found] == 0).all()
    assert mix_recrops(chips, recrops, found, 0.0, g).max() == 0
    half = mix_recrops(chips, recrops, np.ones(64, bool), 0.5, g)[:, 0, 0, 0] == 9
    assert 16 < half.sum() < 48
    a = mix_recrops(chips, recrops, found, 0.5, torch.Generator().manual_seed(3))
    b = mix_recrops(chips, recrops, found, 0.5, torch.Generator().manual_seed(3))
    assert np.array_equal(a, b)


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_cosine_schedule_and_recrop_resume_exactly(tiny, tmp_path, capsys):
    data, manifest = tiny
    opts = ["--schedule", "cosine", "--warmup-epochs", "0.5", "--early-stop-patience", "0",
            "--recrop", "0.5"]
    assert _train(data, manifest, tmp_path / "straight", "--epochs", "3", *opts) == 0
    # Stop after the first epoch (4 steps) of a 3-epoch schedule, then resume.
    assert _train(data, manifest, tmp_path / "split", "--epochs", "3", "--max-steps", "4",
                  *opts) == 0
    ckpt = load_checkpoint(tmp_path / "split" / "last.pt")
    assert ckpt["train_config"]["schedule"] == "cosine" and ckpt["epoch"] == 1
    # The schedule depends on the planned length: resuming with another is refused.
    assert _train(data, manifest, tmp_path / "split", "--epochs", "5", "--resume", *opts) != 0
    assert "planned for 3 epochs" in capsys.readouterr().err
    assert _train(data, manifest, tmp_path / "split", "--epochs", "3", "--resume", *opts) == 0
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), f"{name} differs after resume"
    history = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    # 25 training chips, batch 8: 4 steps an epoch, 12 in all, 2 of warm-up; the logged lr
    # is the epoch's last step's.
    from genderage.training.schedule import cosine_lr
    assert [round(r["lr"], 9) for r in history] == \
        [round(cosine_lr(s, 12, 2, 1e-3), 9) for s in (3, 7, 11)]
    # The synthetic chips hold no face: every re-crop is missing, so training used chips,
    # and the re-crop validation metrics are absent rather than computed on nothing.
    assert "recrop_val_loss" not in history[0]


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_resume_with_another_config_names_the_differing_keys(tiny, tmp_path, capsys):
    data, manifest = tiny
    out = tmp_path / "run"
    assert _train(data, manifest, out, "--epochs", "1", "--lr", "1e-3") == 0
    before = (out / "run.json").read_text()
    assert _train(data, manifest, out, "--epochs", "2", "--lr", "2e-3", "--seed", "5",
                  "--resume") != 0
    err = capsys.readouterr().err
    assert "differing keys: lr: 0.001 -> 0.002; seed: 0 -> 5" in err
    assert f"--config {out / 'run.json'}" in err
    # refused before anything was written; the run record still says how to continue it
    assert (out / "run.json").read_text() == before
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    # where things are and how fast it runs may change (threads, cache); the run continues
    assert main(["train", "--config", str(out / "run.json"), "--epochs", "2", "--threads", "2",
                 "--no-progress", "--resume"]) == 0
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


def test_configs_validate_on_construction():
    from genderage.training.config import ModelConfig, TrainConfig

    with pytest.raises(ValueError, match="age_output='expecation'.*'expectation'"):
        ModelConfig(age_distribution=True, age_output="expecation")
    with pytest.raises(ValueError, match="needs age_distribution"):
        ModelConfig(age_output="expectation")
    with pytest.raises(ValueError, match="schedule='cosin'"):
        TrainConfig(schedule="cosin")
    with pytest.raises(ValueError, match="augment='heavy'"):
        TrainConfig(augment="heavy")
    with pytest.raises(ValueError, match="recrop must be in"):
        TrainConfig(recrop=1.5)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)


def test_old_configs_with_removed_options_load_with_a_warning(caplog):
    from genderage.training.config import ModelConfig, TrainConfig

    old = {**TrainConfig(epochs=7).to_dict(), "mixup": 0.2, "balance_race": 1.0, "extra": {}}
    with caplog.at_level("WARNING"):
        cfg = TrainConfig.from_dict(old, "runs/old/last.pt")
    assert cfg == TrainConfig(epochs=7)
    assert "runs/old/last.pt" in caplog.text and "balance_race, extra, mixup" in caplog.text
    mcfg = ModelConfig.from_dict({**ModelConfig().to_dict(), "dropout": 0.1})
    assert mcfg == ModelConfig()


def test_train_help_shows_config(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "--config JSON" in text and "(default: 64)" in text


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_recipe_file_with_overrides_and_the_run_record(tiny, tmp_path, capsys):
    from genderage import __version__
    from genderage.training.config import TrainConfig

    data, manifest = tiny
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"data_dir": str(data), "manifest": str(manifest),
                                  "arch": "card_small", "epochs": 5, "batch_size": 8,
                                  "precision": "fp32", "cache_dir": None, "threads": 1,
                                  "age_distribution": True, "age_output": "expectation"}))
    out = tmp_path / "run"
    argv = ["train", "--config", str(recipe), "--epochs", "1", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    record = json.loads((out / "run.json").read_text())
    cfg = TrainConfig.from_dict(record["train_config"])
    assert (cfg.epochs, cfg.batch_size, cfg.age_output, cfg.out_dir) == \
        (1, 8, "expectation", str(out))
    assert load_checkpoint(out / "last.pt")["train_config"] == cfg.to_dict()
    assert record["argv"] == argv and record["genderage_version"] == __version__
    assert record["git_commit"] is None or len(record["git_commit"].split("+")[0]) == 40
    # A run's record is itself a recipe: the same run again gives the same weights.
    again = tmp_path / "again"
    assert main(["train", "--config", str(out / "run.json"), "--out", str(again),
                 "--no-progress"]) == 0
    a, b = load_checkpoint(out / "last.pt"), load_checkpoint(again / "last.pt")
    assert all(torch.equal(t, b["model_state"][k]) for k, t in a["model_state"].items())
    # A typo in a recipe fails before any data is read.
    recipe.write_text(json.dumps({"data_dir": "/nonexistent", "manifest": "/nonexistent.csv",
                                  "age_output": "expecation"}))
    capsys.readouterr()
    assert main(["train", "--config", str(recipe)]) == 2
    assert "expecation" in capsys.readouterr().err


def test_shipped_recipe_is_the_metrics_bundle_command():
    from genderage.models import DEFAULT_MODEL

    bundle = DEFAULT_MODEL.with_name("genderage.metrics.json")
    if not bundle.is_file():
        pytest.skip("no shipped model")
    from genderage.training.config import TrainConfig

    shipped = json.loads(bundle.read_text())["training"]
    # v3's last cycle: its recipe file is the resolved config the run recorded, field by field
    assert shipped["recipe"] == "configs/v3j.json"
    recipe = json.loads((ROOT / "configs" / "v3j.json").read_text())
    assert TrainConfig.from_dict(recipe) == TrainConfig.from_dict(shipped["config"])
    assert recipe == {k: v for k, v in shipped["config"].items() if k in recipe}


def test_a_distillation_recipe_is_refused_with_the_commit_that_runs_it():
    from genderage.training.config import V2_RELEASE_COMMIT, TrainConfig

    with pytest.raises(ValueError, match=f"v2.json: distill_alpha=0.5: gender distillation "
                                         f"was removed.*at commit {V2_RELEASE_COMMIT}"):
        TrainConfig.from_json(ROOT / "configs" / "v2.json")
    # a recipe or checkpoint that had it off still loads (the old fields are ignored)
    assert TrainConfig.from_dict({"distill_alpha": 0.0, "teacher_dir": "runs/teachers"}).lr > 0


def test_faceset_keeps_every_per_face_array_aligned():
    from genderage.training.faceset import FaceSet

    n = 5
    faces = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    fs = FaceSet(faces, np.arange(n) % 2, np.arange(n, dtype=np.float32) * 10, np.zeros(n, int),
                 recrops=faces + 100, recrop_found=np.array([1, 0, 1, 0, 0], bool),
                 extra={"source": np.array(list("uuaau"))})
    part = fs.take(np.array([4, 2]))
    assert part.faces[:, 0, 0, 0].tolist() == [4, 2] and part.age.tolist() == [40.0, 20.0]
    assert part.extra["source"].tolist() == ["u", "a"] and part.recrops[0, 0, 0, 0] == 104
    rc = fs.recropped()
    assert rc.faces[:, 0, 0, 0].tolist() == [100, 102] and rc.gender.tolist() == [0, 0]
    assert rc.recrops is None and rc.extra["source"].tolist() == ["u", "a"]
    assert FaceSet(faces, fs.gender, fs.age, fs.race).recropped() is None
    with pytest.raises(ValueError, match="differ in length"):
        FaceSet(faces, fs.gender[:3], fs.age, fs.race)


def test_teacher_targets_mix_into_the_loss_as_documented():
    from genderage.training.config import TrainConfig
    from genderage.training.objectives import Targets, age_targets, compute_loss

    torch.manual_seed(0)
    out = {"gender_logits": torch.randn(4, 2), "age_reg": torch.rand(4),
           "age_logits": torch.randn(4, 121)}
    gender, age = torch.tensor([0, 1, 1, 0]), torch.tensor([3.0, 25.0, 60.0, 90.0])
    t_gender = torch.softmax(torch.randn(4, 2), 1)
    t_age = torch.softmax(torch.randn(4, 121), 1)
    plain_cfg = TrainConfig(age_distribution=True)
    plain, _ = compute_loss(out, Targets(gender, age), plain_cfg)
    cfg = TrainConfig(age_distribution=True, teachers=["t.onnx"], teacher_weight=0.25)
    mixed, parts = compute_loss(out, Targets(gender, age, t_gender, t_age), cfg)
    # by hand: soft cross-entropy and KL against the mixed targets
    g_target = 0.75 * torch.nn.functional.one_hot(gender, 2).float() + 0.25 * t_gender
    ce = -(g_target * torch.log_softmax(out["gender_logits"], 1)).sum(1).mean()
    a_target = 0.75 * age_targets(age, cfg.ldl_sigma) + 0.25 * t_age
    logp = torch.log_softmax(out["age_logits"], 1)
    kl = (a_target * (torch.log(a_target) - logp)).sum(1).mean()
    mse = ((out["age_reg"] - age / 100) ** 2).mean()
    assert parts["gender_loss"] == pytest.approx(ce.item(), rel=1e-5)
    assert parts["ldl_loss"] == pytest.approx(kl.item(), rel=1e-5)
    assert mixed.item() == pytest.approx((ce + 2.0 * mse + kl).item(), rel=1e-5)
    assert mixed.item() != pytest.approx(plain.item(), rel=1e-3)
    # teacher_gender_weight 0: the gender loss is the labels' alone, the age target still mixed
    age_only = TrainConfig(age_distribution=True, teachers=["t.onnx"], teacher_weight=0.25,
                           teacher_gender_weight=0.0)
    _, parts_age_only = compute_loss(out, Targets(gender, age, t_gender, t_age), age_only)
    plain_ce = torch.nn.functional.cross_entropy(out["gender_logits"], gender)
    assert parts_age_only["gender_loss"] == pytest.approx(plain_ce.item(), rel=1e-5)
    assert parts_age_only["ldl_loss"] == pytest.approx(kl.item(), rel=1e-5)
    # targets without teacher answers (validation) give the plain loss under the same config
    assert compute_loss(out, Targets(gender, age), cfg)[0].item() == pytest.approx(plain.item())
    with pytest.raises(ValueError, match="teachers and teacher_weight go together"):
        TrainConfig(age_distribution=True, teacher_weight=0.5)
    with pytest.raises(ValueError, match="need age_distribution"):
        TrainConfig(teachers=["t.onnx"], teacher_weight=0.5)
    with pytest.raises(ValueError, match="teacher_views='augmented' needs teachers"):
        TrainConfig(age_distribution=True, teacher_views="augmented")
    with pytest.raises(ValueError, match="teacher_views='noisy': choose from"):
        TrainConfig(age_distribution=True, teachers=["t.onnx"], teacher_weight=0.5,
                    teacher_views="noisy")


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_training_with_a_teacher_ensemble_caches_its_answers(trained, tmp_path, capsys):
    from genderage.attribute import AttributeModel, softmax
    from genderage.data.split import read_manifest
    from genderage.preprocess import to_input
    from genderage.training.cache import load_faces
    from genderage.training.teachers import ensemble_targets

    data, manifest, ckpt = trained
    teacher = tmp_path / "teacher.onnx"
    assert main(["export", str(ckpt), "--out", str(teacher)]) == 0
    faces = load_faces(data, [r for r in read_manifest(manifest) if r.split == "train"], None)
    cache = tmp_path / "cache"
    cache.mkdir()
    g, a = ensemble_targets([str(teacher), str(teacher)], faces, cache)
    model = AttributeModel(teacher)
    out = model.run(to_input(faces))
    np.testing.assert_allclose(g, softmax(out["output"][:, :2]), atol=1e-6)
    np.testing.assert_allclose(a, out["age_probs"], atol=1e-6)
    assert len(list(cache.glob("teachers_*.npz"))) == 1
    g2, _ = ensemble_targets([str(teacher), str(teacher)], faces, cache)  # read back
    np.testing.assert_array_equal(g, g2)
    capsys.readouterr()
    assert _train(data, manifest, tmp_path / "student", "--epochs", "1", "--age-distribution",
                  "--teacher", str(teacher), "--teacher-weight", "0.5") == 0
    cfg = load_checkpoint(tmp_path / "student" / "last.pt")["train_config"]
    assert cfg["teachers"] == [str(teacher)] and cfg["teacher_weight"] == 0.5
    # a teacher flag without a weight is a usage error naming both
    assert _train(data, manifest, tmp_path / "bad", "--epochs", "1", "--age-distribution",
                  "--teacher", str(teacher)) == 2
    assert "teacher_weight" in capsys.readouterr().err


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_online_teachers_answer_the_augmented_batch_the_student_sees(trained, tmp_path,
                                                                      monkeypatch):
    from genderage.data.split import read_manifest
    from genderage.training import loop, teachers
    from genderage.training.cache import load_faces

    data, manifest, ckpt = trained
    teacher = tmp_path / "teacher.onnx"
    assert main(["export", str(ckpt), "--out", str(teacher)]) == 0
    faces = load_faces(data, [r for r in read_manifest(manifest) if r.split == "train"], None)
    online = teachers.OnlineTeachers([str(teacher), str(teacher)])
    # on clean faces, through the training loop's own preprocessing: the cached answers
    g, a = online(loop.to_float(faces, "cpu", False).numpy())
    g_cached, a_cached = teachers.ensemble_targets([str(teacher)], faces)
    np.testing.assert_allclose(g, g_cached, atol=1e-6)
    np.testing.assert_allclose(a, a_cached, atol=1e-6)
    assert g.dtype == a.dtype == np.float32 and g.shape == (len(faces), 2)
    # a teacher made for another preprocessing cannot be fed the student's input
    from dataclasses import replace

    from genderage.attribute import AttributeModel
    from genderage.contract import META_PREPROCESSING
    from genderage.training.export import set_metadata

    other = tmp_path / "other.onnx"
    other.write_bytes(teacher.read_bytes())
    spec = AttributeModel(teacher).preprocessing
    set_metadata(other, {META_PREPROCESSING: replace(spec, chip_size=spec.chip_size + 8).to_json()})
    with pytest.raises(ValueError, match="other.onnx: made for the preprocessing"):
        teachers.OnlineTeachers([str(teacher), str(other)])

    # a real run: the teachers are asked about every step's augmented batch, never the clean one
    seen = []
    real_call = teachers.OnlineTeachers.__call__

    def spy(self, x):
        seen.append(x.copy())
        return real_call(self, x)

    monkeypatch.setattr(teachers.OnlineTeachers, "__call__", spy)
    assert _train(data, manifest, tmp_path / "student", "--epochs", "1", "--age-distribution",
                  "--augment", "strong", "--teacher", str(teacher), "--teacher-weight", "0.5",
                  "--teacher-views", "augmented") == 0
    cfg = load_checkpoint(tmp_path / "student" / "last.pt")["train_config"]
    assert cfg["teacher_views"] == "augmented"
    steps = -(-len(faces) // 8)
    assert len(seen) == steps and sum(len(x) for x in seen) == len(faces)
    clean = loop.to_float(faces, "cpu", False).numpy().reshape(len(faces), -1)
    rows = np.concatenate(seen).reshape(len(faces), -1)
    nearest = np.abs(rows[:, None, :] - clean[None, :, :]).max(2).min(1)
    assert (nearest > 0.05).all()  # no teacher input is a clean face
    assert all(x.shape[1:] == (3, 112, 112) and 0 <= x.min() and x.max() <= 1 for x in seen)
