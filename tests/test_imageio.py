"""Decoding: every supported format and pixel mode, EXIF orientation, every bad-input kind."""

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from png_bytes import png_claiming

from genderage.imageio import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    REDUCED_MIN_SIDE,
    ImageDecodeError,
    decode_image,
    decode_reduced,
    load_image,
    read_file_bytes,
    read_image,
    source_name,
)


def gradient(h=24, w=32) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    channels = [x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 4 % 256]
    return np.stack(channels, -1).astype(np.uint8)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        kw.setdefault("compress_level", 1)  # the same pixels; large test images encode 5x faster
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,kw,tol", [
    ("PNG", {}, 0), ("BMP", {}, 0), ("TIFF", {}, 0), ("WEBP", {"lossless": True}, 0),
    ("JPEG", {"quality": 95}, 4.0), ("WEBP", {"quality": 95}, 4.0),
])
def test_formats_round_trip(fmt, kw, tol):
    rgb = gradient()
    out = decode_image(encode(Image.fromarray(rgb), fmt, **kw), f"x.{fmt.lower()}")
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(float) - rgb).mean() <= tol
    assert out.flags.writeable and out.flags.owndata  # callers may draw on it


def test_exif_orientation_6_is_applied():
    # 40 wide x 20 high: left half red, right half blue. Orientation 6 = rotate 90 deg clockwise
    # for display, so the decoded image is 20 wide x 40 high with red on top.
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())
    out = decode_image(data, "rotated.jpg")
    assert out.shape == (40, 20, 3)
    top, bottom = out[2:18].reshape(-1, 3).mean(0), out[22:38].reshape(-1, 3).mean(0)
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50


def test_grayscale_and_palette():
    grey = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32)
    out = decode_image(encode(Image.fromarray(grey, "L"), "PNG"))
    assert out.shape == (24, 32, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)
    pal = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    assert decode_image(encode(pal, "PNG")).shape == (24, 32, 3)


def test_rgba_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)   # opaque red
    rgba[2:] = (0, 255, 0, 0)     # fully transparent
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[3, 3], [255, 255, 255])


def test_16_bit_png():
    grey16 = np.array([[0, 257, 32896, 65535]], np.uint16)
    ok, buf = cv2.imencode(".png", grey16)
    out = decode_image(buf.tobytes(), "grey16.png")
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    # A dark 16-bit image stays dark: values are scaled by the bit depth, not by the maximum.
    ok, buf = cv2.imencode(".png", np.full((2, 2), 200, np.uint16))
    assert decode_image(buf.tobytes(), "dark16.png").max() == 1
    rgb16 = np.zeros((2, 2, 3), np.uint16)
    rgb16[..., 2] = 65535   # cv2 writes BGR: channel 2 is red
    rgb16[..., 1] = 32768
    ok, buf = cv2.imencode(".png", rgb16)
    np.testing.assert_array_equal(decode_image(buf.tobytes(), "rgb16.png")[0, 0], [255, 128, 0])


def test_cmyk_jpeg():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = decode_image(encode(cmyk, "JPEG", quality=95), "cmyk.jpg")
    assert out.shape == (16, 16, 3)
    r, g, b = out.reshape(-1, 3).mean(0)
    assert r > 230 and g < 30 and b < 30


def valid_jpeg() -> bytes:
    return encode(Image.fromarray(gradient(64, 64)), "JPEG", quality=90)


@pytest.mark.parametrize("data,kind,words", [
    (b"", "empty", "empty file"),
    (b"this is a text file, not a picture\n" * 4, "not_image", "not an image"),
    (valid_jpeg()[:300], "corrupt", "truncated"),
    (b"\xff\xd8", "corrupt", "truncated JPEG"),
    (b"\x89PNG", "corrupt", "truncated PNG"),
    (valid_jpeg()[:200] + bytes(range(256)) * 4, "corrupt", "corrupt"),
    (png_claiming(30000, 30000), "too_large", "too large"),
    (png_claiming(8000, 8000), "too_large", "too large"),
])
def test_bad_inputs_raise_typed_errors_naming_the_file(data, kind, words):
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, "holiday/IMG_0042.jpg")
    assert info.value.kind == kind
    assert str(info.value).startswith("holiday/IMG_0042.jpg: ")
    assert words in str(info.value)


def test_read_image_names_the_path(tmp_path):
    with pytest.raises(ImageDecodeError) as info:
        read_image(tmp_path / "missing.png")
    assert info.value.kind == "unreadable" and "missing.png" in str(info.value)
    path = tmp_path / "ok.png"
    path.write_bytes(encode(Image.fromarray(gradient()), "PNG"))
    np.testing.assert_array_equal(read_image(path), gradient())


def test_load_image_accepts_paths_bytes_and_arrays(tmp_path):
    rgb = gradient()
    path = tmp_path / "g.png"
    path.write_bytes(encode(Image.fromarray(rgb), "PNG"))
    for source in (path, str(path), path.read_bytes(), rgb):
        np.testing.assert_array_equal(load_image(source), rgb)
    assert source_name(path) == str(path) and source_name(rgb) is None
    for bad in (rgb.astype(np.float32), rgb[..., 0], np.zeros((0, 5, 3), np.uint8), 42):
        with pytest.raises(ImageDecodeError):
            load_image(bad)


# --- reduced decoding (large images) --------------------------------------------------------

def smooth(h, w, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 64 + 2, w // 64 + 2, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255
                   ).astype(np.uint8)


@pytest.mark.parametrize("fmt,size,factor", [
    ("PNG", (4094, 3000), 1),   # longer side under 2 * 2048: full resolution
    ("PNG", (4096, 3000), 2),
    ("PNG", (6200, 2000), 3),   # any integer factor for box-filtered formats
    ("JPEG", (6200, 2000), 2),  # JPEG: 2, 4 or 8 (DCT scaling), the largest within the rule
    ("JPEG", (8192, 1000), 4),
])
@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_decode_reduced_factor_rule(fmt, size, factor):
    w, h = size
    decoded = decode_reduced(encode(Image.fromarray(smooth(h, w)), fmt), "big")
    assert decoded.factor == factor
    assert decoded.rgb.shape == (-(-h // factor), -(-w // factor), 3)
    assert max(decoded.rgb.shape[:2]) >= REDUCED_MIN_SIDE


def test_phone_photos_in_mpo_form_use_jpeg_scaling(monkeypatch):
    """Phones write JPEGs with an MP extension, which Pillow opens as "MPO": they must be
    scaled while decoding too, not decoded whole and then reduced."""
    img = Image.fromarray(smooth(2000, 4400))
    buf = io.BytesIO()
    img.save(buf, format="MPO", save_all=True, append_images=[img.resize((440, 200))])
    with Image.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.format == "MPO"
    monkeypatch.setattr(Image.Image, "reduce", lambda *a, **k: pytest.fail("full decode"))
    decoded = decode_reduced(buf.getvalue(), "phone.jpg")
    assert decoded.factor == 2 and decoded.rgb.shape == (1000, 2200, 3)


@pytest.mark.parametrize("fmt,tol", [("PNG", 1.0), ("JPEG", 3.0)])
@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_decode_reduced_is_the_area_downscale_of_the_full_image(fmt, tol):
    rgb = smooth(3000, 4400, seed=1)
    data = encode(Image.fromarray(rgb), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    decoded = decode_reduced(data, "big")
    assert decoded.factor == 2
    full = decode_image(data, "big")
    expected = cv2.resize(full, (2200, 1500), interpolation=cv2.INTER_AREA)
    assert np.abs(decoded.rgb.astype(float) - expected).mean() <= tol


def test_decode_reduced_applies_exif_orientation_before_reducing():
    img = Image.fromarray(smooth(1000, 5000))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    decoded = decode_reduced(encode(img, "JPEG", exif=exif), "rotated.jpg")
    assert decoded.factor == 2 and decoded.rgb.shape == (2500, 500, 3)


def test_pixel_limit_default_and_its_message():
    assert MAX_PIXELS == 40_000_000
    with pytest.raises(ImageDecodeError) as info:
        decode_image(png_claiming(7000, 7000), "big.png")
    assert info.value.kind == "too_large" and "limit 40,000,000" in str(info.value)
    # Pillow's own guard fires first on huge claims; the message still quotes our limit.
    for claim in ((30000, 30000), (60000, 60000)):
        with pytest.raises(ImageDecodeError) as info:
            decode_image(png_claiming(*claim), "bomb.png", max_pixels=1234)
        assert "1,234 pixels" in str(info.value) and "178956970" not in str(info.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_truncated_images_are_corrupt_not_non_images(fmt):
    data = encode(Image.fromarray(gradient(16, 16)), fmt)
    kinds = set()
    for n in range(8, len(data), max(1, len(data) // 200)):  # 8: the longest signature
        try:
            decode_image(data[:n], f"x.{fmt.lower()}")
        except ImageDecodeError as exc:
            kinds.add(exc.kind)
    assert kinds == {"corrupt"}, kinds


# --- files that are not regular files, or too big -------------------------------------------

def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageDecodeError) as info:
        read_image(fifo)  # would block forever if opened for a blocking read
    assert info.value.kind == "unreadable" and "not a regular file (a FIFO)" in str(info.value)


def test_devices_and_folders_are_refused(tmp_path):
    for path, words in ((Path("/dev/zero"), "character device"), (tmp_path, "a folder")):
        with pytest.raises(ImageDecodeError) as info:
            load_image(path)
        assert info.value.kind == "unreadable" and words in str(info.value)


def test_file_size_cap(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(Image.fromarray(gradient()), "PNG") + bytes(2000))
    with pytest.raises(ImageDecodeError) as info:
        read_file_bytes(path, max_bytes=1000)
    assert info.value.kind == "too_large" and "limit 1,000" in str(info.value)
    assert len(read_file_bytes(path, max_bytes=path.stat().st_size)) == path.stat().st_size
    assert MAX_FILE_BYTES == 64 * 2**20


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("subsampling", [0, 1, 2])
@pytest.mark.parametrize("progressive", [False, True])
def test_fast_jpeg_decode_is_pillows_to_the_bit(mode, subsampling, progressive):
    """Complete, upright RGB/grayscale JPEGs are decoded by OpenCV (faster): the pixels must
    be Pillow's exactly, for every chroma subsampling, baseline and progressive."""
    import io

    import cv2
    from PIL import Image

    from genderage.imageio import _decode_plain_jpeg, decode_image

    rng = np.random.default_rng(subsampling)
    base = cv2.resize(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8), (333, 251),
                      interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    kw = {"subsampling": subsampling} if mode == "RGB" else {}
    Image.fromarray(base).convert(mode).save(buf, "JPEG", quality=60, progressive=progressive,
                                             **kw)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as img:
        fast = _decode_plain_jpeg(img, data)
        pillow = np.array(img.convert("RGB"))
    assert fast is not None, "this file should take the fast path"
    np.testing.assert_array_equal(fast, pillow)
    np.testing.assert_array_equal(decode_image(data), pillow)


def test_fast_jpeg_decode_leaves_truncated_and_rotated_files_to_pillow():
    import io

    from PIL import Image

    from genderage.imageio import ImageDecodeError, _decode_plain_jpeg, decode_image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    data = buf.getvalue()
    cut = data[:-200]  # no end-of-image marker: OpenCV would fill grey, Pillow refuses
    with Image.open(io.BytesIO(cut)) as im:
        assert _decode_plain_jpeg(im, cut) is None
    with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
        decode_image(cut)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: Pillow applies it
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    rotated = buf.getvalue()
    with Image.open(io.BytesIO(rotated)) as im:
        assert _decode_plain_jpeg(im, rotated) is None
    assert decode_image(rotated).shape == (64, 48, 3)


# --- JPEG scan bombs (#28 item 1) -----------------------------------------------------------

def test_jpeg_scan_bomb_is_refused_before_decoding(monkeypatch):
    """5,000 repeats of a 12-byte refinement scan: ~60 KB more file, ~2 CPU-seconds more
    for libjpeg on 2000x2000 (minutes at 40 Mpx). Refused from the marker count alone."""
    from jpeg_bomb import scan_bomb

    bomb = scan_bomb(2000, 2000, 5000)
    monkeypatch.setattr(Image.Image, "load", lambda *a, **k: pytest.fail("decoded a bomb"))
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("decoded a bomb"))
    for decode in (decode_image, decode_reduced):
        with pytest.raises(ImageDecodeError) as info:
            decode(bomb, "bomb.jpg")
        assert info.value.kind == "too_complex"
        assert str(info.value).startswith("bomb.jpg: JPEG too complex to decode (more than 100 "
                                          "scans for 2000x2000 pixels")


def test_jpeg_scan_limit_scales_with_size_and_counts_exactly():
    from jpeg_bomb import progressive_jpeg, scan_bomb

    from genderage.imageio import allowed_jpeg_scans
    from genderage.jpeg_scans import count_scans

    assert [allowed_jpeg_scans(p) for p in (10**6, 36 * 10**6, 40 * 10**6, 400 * 10**6)] == \
        [100, 27, 25, 16]
    assert count_scans(progressive_jpeg(64, 48), 1000) == 10
    assert count_scans(scan_bomb(64, 48, 90), 1000) == 100
    assert count_scans(scan_bomb(64, 48, 5000), 100) == 101  # stops early
    assert count_scans(valid_jpeg(), 1000) == 1  # baseline, interleaved
    decode_image(scan_bomb(64, 48, 90), "100 scans")  # at the cap: decoded
    with pytest.raises(ImageDecodeError, match="too complex"):
        decode_image(scan_bomb(64, 48, 91), "101 scans")


@pytest.mark.slow
def test_a_normal_6000x6000_progressive_jpeg_still_decodes():
    from jpeg_bomb import progressive_jpeg

    data = progressive_jpeg(6000, 6000)
    assert decode_image(data, "big.jpg").shape == (6000, 6000, 3)
    assert decode_reduced(data, "big.jpg").factor == 2


def damaged_jpegs(n: int = 40):
    """``n`` copies of a real photo, each with 64 random bytes written into its scan data."""
    data = (Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg").read_bytes()
    sos = data.find(b"\xff\xda")
    rng = np.random.default_rng(0)
    for _ in range(n):
        damaged = bytearray(data)
        start = sos + 20 + int(rng.integers(0, (len(data) - sos - 40) // 2))
        damaged[start:start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        yield bytes(damaged)


def test_damaged_jpeg_data_is_corrupt_wherever_pillow_says_so():
    """OpenCV decoded damaged scan data into a smeared picture (faces and all) where Pillow
    reports a broken data stream: every such file must be "corrupt" (#28 item 11)."""
    pillow_broken = ours_broken = 0
    for data in damaged_jpegs():
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
        except OSError:
            pillow_broken += 1
            with pytest.raises(ImageDecodeError) as info:
                decode_image(data, "damaged.jpg")
            assert info.value.kind == "corrupt" and "corrupt JPEG data" in str(info.value)
        try:
            decode_image(data, "damaged.jpg")
        except ImageDecodeError:
            ours_broken += 1
    assert pillow_broken >= 5 and ours_broken >= pillow_broken
