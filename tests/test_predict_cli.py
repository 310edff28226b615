"""``genderage predict`` through the real entry point ``genderage.cli.main`` on tiny data."""

import hashlib
import io
import json
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from genderage.cli import main

FACE_KEYS = {"bbox": list, "landmarks": list, "det_score": float, "gender": str,
             "gender_probability": float, "female_probability": float, "age": float, "age_interval": list, "quality": dict}
QUALITY_KEYS = {"det_score": float, "inter_ocular_px": float, "face_size_px": float,
                "blur": float, "yaw": float, "pitch": float, "roll": float,
                "low_quality": bool, "reasons": list, "brightness": float}


def face_like(seed: int, size=(160, 160)) -> np.ndarray:
    """A sharp random texture (a face stand-in for --aligned: no detection involved)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def write(path, rgb, fmt="PNG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format=fmt)
    return path


def png_claiming(width, height) -> bytes:
    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(1024))) + chunk(b"IEND", b""))


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check_schema(obj: dict) -> None:
    assert list(obj) == ["path", "faces", "error"]
    assert obj["path"] is None or isinstance(obj["path"], str)
    for face in obj["faces"]:
        assert list(face) == list(FACE_KEYS)
        for key, typ in FACE_KEYS.items():
            assert type(face[key]) is typ, key
        assert len(face["bbox"]) == 4 and all(type(v) is float for v in face["bbox"])
        assert len(face["landmarks"]) == 5
        assert all(len(p) == 2 and all(type(v) is float for v in p) for p in face["landmarks"])
        assert face["gender"] in ("female", "male")
        assert 0.5 <= face["gender_probability"] <= 1.0
        lo, hi = face["age_interval"]
        assert 0.0 <= lo <= hi <= 120.0 and 0.0 <= face["age"] <= 120.0
        assert set(face["quality"]) == set(QUALITY_KEYS)
        for key, typ in QUALITY_KEYS.items():
            assert type(face["quality"][key]) is typ, key


def test_json_lines_schema_aligned(tmp_path, model_path, capsys):
    write(tmp_path / "in" / "a.png", face_like(0))
    write(tmp_path / "in" / "sub" / "B.PNG", face_like(1, (200, 180)))
    write(tmp_path / "in" / "sub" / "c.jpeg", face_like(2), "JPEG")
    (tmp_path / "in" / "notes.txt").write_text("not picked up: not an image extension")
    rc = main(["predict", "--json", "--aligned", "--model", str(model_path),
               str(tmp_path / "in")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    lines = json_lines(out.out)
    assert [o["path"] for o in lines] == [str(tmp_path / "in" / p)
                                          for p in ("a.png", "sub/B.PNG", "sub/c.jpeg")]
    for obj in lines:
        check_schema(obj)
        assert obj["error"] is None and len(obj["faces"]) == 1
    assert lines[1]["faces"][0]["bbox"] == [0.0, 0.0, 180.0, 200.0]


def test_bad_files_are_reported_and_others_processed(tmp_path, model_path, capsys):
    d = tmp_path / "in"
    write(d / "good.png", face_like(3))
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.png").write_text("hello, I am text")
    buf = io.BytesIO()
    Image.fromarray(face_like(4)).save(buf, format="JPEG")
    (d / "truncated.jpg").write_bytes(buf.getvalue()[:400])
    (d / "bomb.png").write_bytes(png_claiming(30000, 30000))
    missing = tmp_path / "missing.jpg"
    rc = main(["predict", "--json", "--aligned", "--model", str(model_path), str(d),
               str(missing)])
    out = capsys.readouterr()
    assert rc == 1
    by_name = {o["path"].rsplit("/", 1)[-1]: o for o in json_lines(out.out)}
    assert set(by_name) == {"good.png", "empty.jpg", "notes.png", "truncated.jpg", "bomb.png",
                            "missing.jpg"}
    for obj in by_name.values():
        check_schema(obj)
    assert by_name["good.png"]["error"] is None and len(by_name["good.png"]["faces"]) == 1
    expected = {"empty.jpg": "empty file", "notes.png": "not an image",
                "truncated.jpg": "truncated", "bomb.png": "too large",
                "missing.jpg": "cannot read file"}
    for name, words in expected.items():
        assert by_name[name]["faces"] == []
        assert name in by_name[name]["error"] and words in by_name[name]["error"]
    assert "5 of 6 input(s) failed" in out.err
    assert "Traceback" not in out.err


def test_table_mode_reports_errors_on_stderr(tmp_path, model_path, capsys):
    good = write(tmp_path / "good.png", face_like(5))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    rc = main(["predict", "--aligned", "--model", str(model_path), str(good), str(bad)])
    out = capsys.readouterr()
    assert rc == 1
    rows = out.out.splitlines()
    assert rows[0].split()[:3] == ["file", "face", "gender"]
    assert len(rows) == 2 and rows[1].startswith(str(good))
    fields = rows[1].split()
    assert fields[1] == "0" and fields[2] in ("female", "male") and fields[-1] == "ok"
    assert f"error: {bad}:" in out.err and "Traceback" not in out.err


def test_skip_low_quality_drops_blurry_faces(tmp_path, model_path, capsys):
    flat = write(tmp_path / "flat.png", np.full((120, 120, 3), 128, np.uint8))
    args = ["predict", "--json", "--aligned", "--model", str(model_path), str(flat)]
    assert main(args) == 0
    kept = json_lines(capsys.readouterr().out)[0]["faces"]
    assert len(kept) == 1 and kept[0]["quality"]["reasons"] == ["blurry"]
    assert main(args + ["--skip-low-quality"]) == 0
    assert json_lines(capsys.readouterr().out)[0]["faces"] == []


def test_annotate_writes_copies_only_there(tmp_path, model_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in"
    a = write(src / "a.png", face_like(6))
    b = write(src / "x" / "a.png", face_like(7))  # same name, other folder
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)}
    before = sorted(p for p in tmp_path.rglob("*"))
    rc = main(["predict", "--aligned", "--model", str(model_path), str(src),
               "--annotate", str(src)])  # annotating into the input folder itself
    assert rc == 0, capsys.readouterr().err
    written = sorted(set(tmp_path.rglob("*")) - set(before))
    assert [p.name for p in written] == ["a.annotated-1.png", "a.annotated.png"]
    assert all(p.parent == src for p in written)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)} == digest
    drawn = cv2.imread(str(src / "a.annotated.png"))
    assert drawn.shape == (160, 160, 3)
    assert not np.array_equal(cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB), face_like(6))


def test_usage_errors_exit_2(tmp_path, model_path, capsys):
    img = write(tmp_path / "a.png", face_like(8))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(SystemExit) as info:
        main(["predict", "--batch-size", "0", str(img)])
    assert info.value.code == 2
    assert main(["predict", "--model", str(model_path), str(tmp_path / "empty_dir")]) == 2
    assert main(["predict", "--aligned", "--model", str(tmp_path / "nope.onnx"), str(img)]) == 2
    assert main(["predict", "--model", str(model_path), "--detector", "no-such-detector",
                 str(img)]) == 2
    err = capsys.readouterr().err
    assert "no image files found" in err and "nope.onnx" in err and "no-such-detector" in err
    assert "Traceback" not in err


def test_batch_size_does_not_change_results(tmp_path, model_path, capsys):
    paths = [str(write(tmp_path / f"{i}.png", face_like(10 + i))) for i in range(5)]
    outs = []
    for bs in ("1", "4"):
        assert main(["predict", "--json", "--aligned", "--model", str(model_path),
                     "--batch-size", bs, *paths]) == 0
        outs.append(json_lines(capsys.readouterr().out))
    assert outs[0] == outs[1]


def test_real_photo_json(shared_dir, model_path, capsys):
    from genderage.detect import DetectorError, create_detector

    path = shared_dir / "data" / "AAF" / "images" / "00000A02.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    try:
        create_detector()
    except DetectorError as exc:
        pytest.skip(f"default detector unavailable: {exc}")
    assert main(["predict", "--json", "--model", str(model_path), str(path)]) == 0
    (obj,) = json_lines(capsys.readouterr().out)
    check_schema(obj)
    assert obj["path"] == str(path) and obj["error"] is None and len(obj["faces"]) == 1
    assert obj["faces"][0]["det_score"] > 0.5


def test_flip_tta_makes_a_face_and_its_mirror_agree(tmp_path, model_path, capsys):
    face = face_like(3, (112, 112))
    paths = [str(write(tmp_path / "a.png", face)),
             str(write(tmp_path / "b.png", np.ascontiguousarray(face[:, ::-1])))]

    def ages(*extra):
        assert main(["predict", "--json", "--aligned", "--model", str(model_path), *extra,
                     *paths]) == 0
        return [r["faces"][0]["age"] for r in json_lines(capsys.readouterr().out)]

    plain, tta = ages(), ages("--flip-tta")
    assert abs(plain[0] - plain[1]) > 1e-3      # the model is not mirror-symmetric...
    assert tta[0] == pytest.approx(tta[1], abs=1e-3)  # ...its mirror-averaged prediction is
    assert min(plain) - 1e-3 <= tta[0] <= max(plain) + 1e-3


def test_flip_tta_is_not_dropped_for_a_model_object(model_path):
    from genderage import GenderAge
    from genderage.attribute import AttributeModel

    with pytest.raises(ValueError, match="flip_tta=True"):
        GenderAge(AttributeModel(model_path), flip_tta=True)
    assert GenderAge(AttributeModel(model_path, flip_tta=True), flip_tta=True).model.flip_tta
    assert GenderAge(model_path, flip_tta=True).model.flip_tta
