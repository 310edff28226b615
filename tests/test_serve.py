"""HTTP API: every status code, both upload shapes, the 200 schema, limits, the web page.

Runs against the shipped model when present (else a tiny random one with the contract) and
the default detector (else the shared SCRFD file). Face tests use an AAF photo from
``../shared`` and skip without it; the error and no-face tests need no data.
"""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest
from PIL import Image
from png_bytes import png_claiming

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from genderage.cli import main  # noqa: E402
from genderage.detect import DetectorError, create_detector  # noqa: E402
from genderage.imageio import MAX_PIXELS  # noqa: E402
from genderage.pipeline import GenderAge  # noqa: E402
from genderage.serve import MAX_BODY_BYTES, create_app  # noqa: E402

AAF_FACE = "data/AAF/images/03061A28.jpg"
"""An adult portrait from AAF (one face)."""

FACE_KEYS = {"bbox", "landmarks", "det_score", "gender", "gender_probability",
             "female_probability", "age",
             "age_interval", "quality"}


@pytest.fixture(scope="module")
def detector():
    """The default detector; the shared SCRFD file where the default cannot be created."""
    try:
        return create_detector()
    except (DetectorError, ImportError):
        from conftest import SHARED

        path = SHARED / "models" / "scrfd_500m_bnkps.onnx"
        if not path.is_file():
            pytest.skip("no usable face detector (default unavailable, shared SCRFD absent)")
        return create_detector(str(path))


@pytest.fixture(scope="module")
def analyzer(model_path, detector):
    return GenderAge(model_path, detector)


@pytest.fixture(scope="module")
def client(analyzer):
    with TestClient(create_app(analyzer), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def face_jpeg(shared_dir) -> bytes:
    path = shared_dir / AAF_FACE
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path.read_bytes()


def encode(rgb: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


def no_face_image(h=240, w=320) -> np.ndarray:
    """Smooth colour gradient: nothing a face detector should fire on."""
    y, x = np.mgrid[:h, :w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], -1
                    ).astype(np.uint8)


def post_raw(client, data: bytes, content_type: str = "image/jpeg", **kw):
    return client.post("/v1/predict", content=data, headers={"Content-Type": content_type}, **kw)


def post_file(client, data: bytes, filename: str = "photo.jpg", field: str = "file"):
    return client.post("/v1/predict", files={field: (filename, data, "image/jpeg")})


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text


# --- 200 -----------------------------------------------------------------------------------

def test_face_multipart_matches_the_pipeline_and_schema(client, analyzer, face_jpeg):
    response = post_file(client, face_jpeg, "portrait.jpg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"path", "faces", "error"}
    assert body["path"] == "portrait.jpg" and body["error"] is None
    assert len(body["faces"]) == 1
    face = body["faces"][0]
    assert set(face) == FACE_KEYS
    assert len(face["bbox"]) == 4 and face["bbox"][0] < face["bbox"][2]
    assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
    assert face["gender"] in ("female", "male") and 0.5 <= face["gender_probability"] <= 1.0
    lo, hi = face["age_interval"]
    assert 0 <= lo <= hi <= 120 and 0 <= face["age"] <= 120
    assert isinstance(face["quality"]["low_quality"], bool)
    # Same numbers as the library (and so as `predict --json`) on the same bytes.
    expected = analyzer.predict(face_jpeg).to_dict()
    expected["path"] = "portrait.jpg"
    assert body == json.loads(json.dumps(expected))


def test_face_raw_body_gives_the_same_faces_and_null_path(client, face_jpeg):
    multipart = post_file(client, face_jpeg).json()
    raw = post_raw(client, face_jpeg, "image/jpeg")
    octet = post_raw(client, face_jpeg, "application/octet-stream")
    assert raw.status_code == octet.status_code == 200
    assert raw.json()["path"] is None
    assert raw.json()["faces"] == octet.json()["faces"] == multipart["faces"]


def test_predict_json_cli_prints_the_same_object(client, model_path, detector, shared_dir,
                                                 face_jpeg, capsys):
    path = shared_dir / AAF_FACE
    spec = "default" if detector.name == "mtcnn" else str(
        shared_dir / "models" / "scrfd_500m_bnkps.onnx")
    assert main(["predict", "--json", "--model", str(model_path), "--detector", spec,
                 str(path)]) == 0
    cli = json.loads(capsys.readouterr().out.strip())
    api = post_file(client, face_jpeg, path.name).json()
    assert cli.pop("path") == str(path) and api.pop("path") == path.name
    assert api == cli and len(api["faces"]) == 1


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_no_face_is_200_with_empty_faces(client, fmt):
    response = post_file(client, encode(no_face_image(), fmt), f"blank.{fmt.lower()}")
    assert response.status_code == 200
    assert response.json() == {"path": f"blank.{fmt.lower()}", "faces": [], "error": None}


def test_concurrent_requests_give_identical_results(analyzer, face_jpeg):
    app = create_app(analyzer, threads=4)
    with TestClient(app) as c:
        expected = post_file(c, face_jpeg).json()
        results = [None] * 12

        def worker(i):
            results[i] = post_file(c, face_jpeg).json()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert all(r == expected for r in results)


def test_only_thread_unsafe_detectors_are_serialized(model_path, detector, shared_dir):
    assert create_app(GenderAge(model_path, detector)).state.serve.predict_lock is None
    yunet = shared_dir / "models" / "yunet_s_dynamic.onnx"
    if not yunet.is_file():
        pytest.skip(f"{yunet} is absent")
    app = create_app(GenderAge(model_path, create_detector(str(yunet))))
    assert app.state.serve.predict_lock is not None


# --- 4xx -----------------------------------------------------------------------------------

def test_declared_body_over_limit_is_413_without_reading(client):
    response = post_raw(client, b"\xff" * (MAX_BODY_BYTES + 1))
    assert_error(response, 413, "body_too_large")


def test_streamed_body_over_limit_is_413(analyzer):
    # Chunked upload (no Content-Length): the limit is enforced while counting the stream.
    app = create_app(analyzer, max_body_bytes=50_000)
    sent = []

    def chunks():
        for _ in range(100):
            sent.append(10_000)
            yield b"\0" * 10_000

    with TestClient(app) as c:
        response = c.post("/v1/predict", content=chunks(),
                          headers={"Content-Type": "image/png"})
        assert_error(response, 413, "body_too_large")
        assert "50,000 bytes" in response.json()["detail"]
        ok = c.post("/v1/predict", content=iter([encode(no_face_image(40, 40))]),
                    headers={"Content-Type": "image/png"})
        assert ok.status_code == 200


def test_multipart_over_limit_is_413(client):
    assert_error(post_file(client, b"\0" * (MAX_BODY_BYTES + 10)), 413, "body_too_large")


def test_body_at_limit_is_read(analyzer):
    # The limit is inclusive: a body of exactly max_body_bytes is analysed.
    png = encode(no_face_image(32, 32))
    with TestClient(create_app(analyzer, max_body_bytes=len(png))) as c:
        assert post_raw(c, png, "image/png").status_code == 200
        assert_error(post_raw(c, png + b"\0", "image/png"), 413, "body_too_large")


@pytest.mark.parametrize("width,height", [(8000, 8000), (30000, 30000)])
def test_too_many_pixels_is_413(client, width, height):
    assert width * height > MAX_PIXELS
    response = post_file(client, png_claiming(width, height), "bomb.png")
    assert_error(response, 413, "too_many_pixels")
    assert f"{width}x{height}" in response.json()["detail"] or "too large" in \
        response.json()["detail"]



def test_too_large_quotes_the_service_limit_and_truncation_is_corrupt(analyzer):
    with TestClient(create_app(analyzer, max_pixels=1234)) as c:
        for claim in ((100, 100), (30000, 30000)):  # ours first; Pillow's own guard second
            response = post_file(c, png_claiming(*claim), "bomb.png")
            assert_error(response, 413, "too_many_pixels")
            assert "1,234" in response.json()["detail"]
            assert "178956970" not in response.json()["detail"]
        # A file cut inside its header still says what it is: corrupt, not "not an image".
        png = encode(no_face_image(32, 32))
        for n in (12, 20, 30):
            assert_error(post_raw(c, png[:n], "image/png"), 400, "corrupt_image")

def test_jpeg_scan_bomb_is_422_too_complex(client):
    from jpeg_bomb import scan_bomb

    response = post_file(client, scan_bomb(2000, 2000, 5000), "bomb.jpg")
    assert_error(response, 422, "too_complex")
    assert "more than 100 scans" in response.json()["detail"]


def test_pixel_limit_is_configurable(analyzer):
    png = encode(no_face_image(100, 100))
    with TestClient(create_app(analyzer, max_pixels=100 * 100)) as c:
        assert post_raw(c, png, "image/png").status_code == 200
    with TestClient(create_app(analyzer, max_pixels=100 * 100 - 1)) as c:
        assert_error(post_raw(c, png, "image/png"), 413, "too_many_pixels")


@pytest.mark.parametrize("data", [
    b"this is a text file, not a picture\n" * 4,
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    bytes(range(256)) * 8,
])
def test_non_image_is_415(client, data):
    assert_error(post_file(client, data, "notes.jpg"), 415, "not_an_image")
    assert_error(post_raw(client, data, "image/jpeg"), 415, "not_an_image")


def test_unsupported_content_type_is_415(client):
    png = encode(no_face_image(32, 32))
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        assert_error(post_raw(client, png, content_type), 415, "unsupported_media_type")


def jpeg_bytes() -> bytes:
    return encode(no_face_image(), "JPEG", quality=90)


@pytest.mark.parametrize("data,code", [
    (b"", "empty_image"),
    (b"\xff\xd8", "corrupt_image"),
    (jpeg_bytes()[:400], "corrupt_image"),
    (jpeg_bytes()[: len(jpeg_bytes()) // 2], "corrupt_image"),
    (jpeg_bytes()[:300] + bytes(range(256)) * 4, "corrupt_image"),
    (encode(no_face_image(), "PNG")[:-40], "corrupt_image"),
])
def test_empty_corrupt_or_truncated_is_400(client, data, code):
    assert_error(post_file(client, data, "x.jpg"), 400, code)
    assert_error(post_raw(client, data), 400, code)


def test_missing_file_field_is_422(client):
    png = encode(no_face_image(32, 32))
    response = post_file(client, png, field="image")
    assert_error(response, 422, "missing_file")
    assert "'image'" in response.json()["detail"]


def test_malformed_multipart_is_400(client):
    assert_error(post_raw(client, b"--x\r\nnot a part", "multipart/form-data"), 400,
                 "malformed_multipart")
    assert_error(post_raw(client, b"garbage without boundaries",
                          "multipart/form-data; boundary=abc"), 400, "malformed_multipart")


def test_overlong_multipart_boundary_is_400_not_500(client):
    boundary = b"b" * 300  # RFC 2046 allows 70; python-multipart refuses over 256
    body = multipart_body([("file", b"\x89PNG")], boundary=boundary)
    response = post_raw(client, body, "multipart/form-data; boundary=" + boundary.decode())
    assert_error(response, 400, "malformed_multipart")
    assert "boundary" in response.json()["detail"]


def test_bad_content_length_is_400(client):
    response = client.post("/v1/predict", content=b"x",
                           headers={"Content-Type": "image/png", "Content-Length": "ten"})
    assert_error(response, 400, "bad_content_length")


def test_unknown_route_and_method_are_json(client):
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_busy_server_answers_503(analyzer):
    with TestClient(create_app(analyzer, max_pending=0)) as c:
        response = post_raw(c, encode(no_face_image(32, 32)), "image/png")
        assert_error(response, 503, "busy")
        assert response.headers["retry-after"] == "1"


def multipart_body(fields: list[tuple[str, bytes]], boundary=b"xyzzy") -> bytes:
    out = []
    for name, value in fields:
        out.append(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="'
                   + name.encode() + b'"\r\n\r\n' + value + b"\r\n")
    return b"".join(out) + b"--" + boundary + b"--\r\n"


def test_many_tiny_parts_are_cut_short_with_a_small_answer(client):
    body = multipart_body([(f"field{i}", b"x") for i in range(150_000)])
    assert len(body) > 9_000_000
    response = post_raw(client, body, "multipart/form-data; boundary=xyzzy")
    assert_error(response, 422, "missing_file")
    assert len(response.content) < 300
    assert "first 16 parts" in response.json()["detail"]


def test_missing_file_lists_few_field_names_shortly(client):
    body = multipart_body([("n" * 200 + str(i), b"x") for i in range(8)])
    response = post_raw(client, body, "multipart/form-data; boundary=xyzzy")
    assert_error(response, 422, "missing_file")
    assert len(response.content) < 500


def test_file_part_after_other_fields_is_found(client):
    png = encode(no_face_image(32, 32))
    body = multipart_body([("note", b"hello"), ("file", png), ("after", b"ignored")])
    response = post_raw(client, body, "multipart/form-data; boundary=xyzzy")
    assert response.status_code == 200, response.text
    assert response.json()["path"] is None


def test_oversized_part_headers_are_400(client):
    body = (b'--xyzzy\r\nContent-Disposition: form-data; name="file"\r\nX-Pad: '
            + b"a" * 20_000 + b"\r\n\r\nabc\r\n--xyzzy--\r\n")
    response = post_raw(client, body, "multipart/form-data; boundary=xyzzy")
    assert_error(response, 400, "malformed_multipart")


@pytest.mark.parametrize("sent,expected", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\photo.png", "photo.png"),
    ("/abs/dir/x.jpg", "x.jpg"), ("plain.png", "plain.png"), ("../", None),
])
def test_uploaded_file_name_comes_back_as_its_base_name(client, sent, expected):
    response = client.post("/v1/predict", files={"file": (sent, encode(no_face_image(32, 32)),
                                                          "image/png")})
    assert response.status_code == 200, response.text
    assert response.json()["path"] == expected


def bad_inputs() -> list[tuple[bytes, str]]:
    """Hostile and broken bodies, each with the Content-Type it is sent with."""
    rng = np.random.default_rng(0)
    jpeg, png = jpeg_bytes(), encode(no_face_image(), "PNG")
    gif = encode(no_face_image(20, 20), "GIF")
    out = [(jpeg[:n], "image/jpeg") for n in (1, 2, 3, 10, 100, 623, 1000, len(jpeg) - 2)]
    out += [(png[:n], "image/png") for n in (8, 16, 33, 60, len(png) - 12)]
    out += [(gif[:n], "image/gif") for n in (6, 13, 30)]
    flipped = bytearray(png)
    flipped[40:60] = bytes(20)
    out += [(bytes(flipped), "image/png"), (b"BM" + bytes(60), "image/bmp"),
            (b"II*\0" + bytes(100), "image/tiff"), (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
            (rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "application/octet-stream"),
            (png_claiming(1, 1), "image/png"), (png_claiming(0, 0), "image/png"),
            (png_claiming(2**31 - 1, 2**31 - 1), "image/png"),
            (b"\x00" * 1000, ""), (b"GIF89a" + b"\xff" * 50, "image/gif"),
            (b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + jpeg[:200],
             "multipart/form-data; boundary=b"),
            (b"--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--\r\n",
             "multipart/form-data; boundary=b"),
            (b"--b--\r\n", "multipart/form-data; boundary=b"),
            (png, "image/png; charset=\"unterminated"), (png, "multipart/mixed")]
    return out


def test_bad_inputs_never_produce_500(client):
    for data, content_type in bad_inputs():
        response = client.post("/v1/predict", content=data,
                               headers={"Content-Type": content_type} if content_type else {})
        assert response.status_code in (200, 400, 413, 415, 422), (content_type, data[:40])
        body = response.json()
        assert "error" in body
        if response.status_code == 200:
            assert body["faces"] == [] or isinstance(body["faces"], list)


class FailingDetector:
    """A detector backend with a bug: every call raises."""

    name = "failing"

    def detect(self, image_rgb):
        raise RuntimeError("secret internal state /srv/models/x")


def test_unexpected_error_is_a_bare_json_500(model_path):
    app = create_app(GenderAge(model_path, FailingDetector()))
    with TestClient(app, raise_server_exceptions=False) as c:
        response = post_raw(c, encode(no_face_image(32, 32)), "image/png")
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in response.text


# --- other routes --------------------------------------------------------------------------

def test_healthz_names_the_model_and_its_checksum(client, model_path, detector):
    import hashlib

    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["version"]
    # The file name, not the server's absolute path (which says where it is installed).
    assert body["model"]["file"] == model_path.name and "path" not in body["model"]
    assert str(model_path.parent) not in client.get("/healthz").text
    assert body["model"]["sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert body["detector"] == detector.name
    assert body["model"]["flip_tta"] is False


def test_accuracy_mode_is_reported_by_healthz(model_path):
    app = create_app(model=model_path, detector="mtcnn", flip_tta=True)
    with TestClient(app) as c:
        assert c.get("/healthz").json()["model"]["flip_tta"] is True


def test_openapi_docs_describe_both_upload_shapes(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/*", "application/octet-stream"} <= set(body)


def test_web_page_and_assets_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'type="file"' in html and "/static/app.js" in html and "/static/style.css" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org', "") and "https://" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "https://" not in asset.text and "http://" not in asset.text
    assert "/v1/predict" in client.get("/static/app.js").text
    assert client.get("/static/secret.py").status_code == 404


def test_serve_command_reports_a_missing_model(tmp_path, capsys):
    status = main(["serve", "--model", str(tmp_path / "missing.onnx"), "--port", "1"])
    assert status == 2
    assert "missing.onnx" in capsys.readouterr().err
