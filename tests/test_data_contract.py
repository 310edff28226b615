"""UTKFace label conventions: the gender code flip, file-name parsing, and a light import."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genderage.contract import GENDER_LABELS, gender_label, utkface_gender_to_index
from genderage.data.utkface import MalformedName, parse_name

SRC = Path(__file__).resolve().parents[1] / "src"


def test_utkface_gender_code_is_flipped_to_model_index():
    assert utkface_gender_to_index(0) == 1 and gender_label(1) == "male"
    assert utkface_gender_to_index(1) == 0 and gender_label(0) == "female"
    assert utkface_gender_to_index(np.int64(0)) == 1
    assert GENDER_LABELS == ("female", "male")


@pytest.mark.parametrize("bad", [2, -1, 0.7, "0", "male", None])
def test_utkface_gender_code_rejects_anything_but_0_and_1(bad):
    with pytest.raises(ValueError, match="UTKFace gender must be 0 or 1"):
        utkface_gender_to_index(bad)


@pytest.mark.parametrize("name, age, gender, race", [
    ("25_0_2_20170116174525125.jpg.chip.jpg", 25, "male", 2),
    ("1_1_4_20161219140623097.jpg.chip.jpg", 1, "female", 4),
    ("116_1_0_20170120134921760.jpg.chip.jpg", 116, "female", 0),
    ("UTKFace/9_0_3_20161220222856346.jpg.chip.jpg", 9, "male", 3),
])
def test_parse_name_reads_age_gender_race(name, age, gender, race):
    r = parse_name(name)
    assert (r.file, r.age, gender_label(r.gender), r.race) == (name, age, gender, race)


@pytest.mark.parametrize("name", [
    "39_1_20170116174525125.jpg.chip.jpg",     # race field missing (in UTKFace)
    "55_0_0_20170116232725357jpg.chip.jpg",    # no dot before jpg (in UTKFace)
    "24_0_1_20170116220224657",                # no extension (in UTKFace)
    "2x_0_1_20170116220224657.jpg.chip.jpg",   # non-numeric age
    "25_2_0_20170116220224657.jpg.chip.jpg",   # gender code 2
    "25_0_5_20170116220224657.jpg.chip.jpg",   # race code 5
    "53__0_20170116184028385.jpg.chip.jpg",    # empty field
    "121_0_0_20170116220224657.jpg.chip.jpg",  # implausible age
    ".DS_Store",
])
def test_parse_name_rejects_malformed_names(name):
    with pytest.raises(MalformedName, match=name.split("/")[-1][:10]):
        parse_name(name)


def _imported_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC)}).stdout
    return set(out.split())


def test_import_genderage_is_light():
    loaded = _imported_after("import genderage")
    assert "genderage" in loaded
    assert not loaded & {"torch", "onnxruntime", "cv2", "imagehash"}


def test_cli_parser_and_data_layer_do_not_import_torch():
    loaded = _imported_after("import genderage.cli as c; c.build_parser(); "
                             "import genderage.data.check, genderage.data.split")
    assert "genderage.data.dedup" in loaded
    assert "torch" not in loaded
