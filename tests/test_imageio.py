"""Decoding: every supported format and pixel mode, EXIF orientation, every bad-input kind."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from png_bytes import png_claiming

from genderage.imageio import (
    ImageDecodeError,
    decode_image,
    load_image,
    read_image,
    source_name,
)


def gradient(h=24, w=32) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    channels = [x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 4 % 256]
    return np.stack(channels, -1).astype(np.uint8)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
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
