"""Pixels become model input in one place: ``preprocess.py`` (and ``attribute.py``, which calls it).

Every module of the package, the tools and the research scripts is parsed; a scale by 255, a
reorder to channels-first or a swap of the colour channels anywhere else fails this test,
unless it is one of the :data:`EXCEPTIONS` below, each named by function and with the reason
it is not a conversion for the attribute model. A conversion written a second time would
follow today's contract and silently break the day a model file declares another
(``tests/test_model_paths.py`` shows what a BGR model does to the answers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / "src" / "genderage", ROOT / "tools", ROOT / "research"]
OWNERS = {"src/genderage/preprocess.py", "src/genderage/attribute.py"}
"""The modules allowed to convert pixels for the model: ``preprocess.py`` does,
``attribute.py`` calls it (and mirrors the converted input for test-time augmentation)."""

EXCEPTIONS = {
    ("src/genderage/imageio.py", "_decode_plain_jpeg"):
        "decoding: OpenCV's BGR to the library's RGB",
    ("src/genderage/video/io.py", "VideoSource.frames"):
        "decoding video frames: OpenCV's BGR to RGB",
    ("src/genderage/video/io.py", "VideoWriter.write"):
        "encoding video frames: RGB to OpenCV's BGR",
    ("src/genderage/annotate.py", "write_annotated"):
        "encoding the annotated image: RGB to OpenCV's BGR",
    ("src/genderage/label/crop.py", "video_frame"):
        "decoding a video frame for the labelling page: BGR to RGB",
    ("src/genderage/label/crop.py", "crop_jpeg"):
        "encoding a face crop for the labelling page: RGB to OpenCV's BGR",
    ("src/genderage/pipeline.py", "_bgr_to_rgb"):
        "a caller's BGR array to the library's RGB (GenderAge.predict(color='bgr'))",
    ("src/genderage/detect/yunet.py", "YuNetDetector.detect"):
        "the YuNet detector's own input (BGR), not the attribute model's",
    ("src/genderage/detect/scrfd.py", "ScrfdDetector.detect"):
        "the SCRFD detector's own input (CHW), not the attribute model's",
    ("src/genderage/training/robust.py", "_exposure"):
        "a training degradation in pixel space: uint8 in, uint8 out",
    ("src/genderage/evaluation/group_photos.py", "_light"):
        "a synthetic dark photo in pixel space: uint8 in, uint8 out",
    ("research/compare_detectors.py", "RetinaFace.detect"):
        "a reference detector's own input (BGR, mean-subtracted, CHW)",
    ("research/compare_detectors.py", "CenterFace.detect"):
        "a reference detector's own input (CHW)",
    ("research/dark_threshold.py", "main"):
        "a synthetic under-exposure in pixel space, then the model's predict",
}
"""(file, function) -> why the pixel operation found there is not a conversion for the
attribute model."""

CHANNELS_FIRST = {(0, 3, 1, 2), (2, 0, 1)}
COLOUR_SWAPS = {"COLOR_BGR2RGB", "COLOR_RGB2BGR"}


def _is_255(node: ast.AST) -> bool:
    """``255``, ``255.0``, or a cast of it such as ``np.float32(255.0)``."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        node = node.args[0]
    return isinstance(node, ast.Constant) and not isinstance(node.value, bool) \
        and isinstance(node.value, (int, float)) and node.value == 255


def _is_reciprocal_255(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, float) \
        and abs(node.value - 1 / 255) < 1e-9


def _int(node: ast.AST) -> int | None:
    """The value of an integer literal such as ``3`` or ``-1``, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _int(node.operand)
        return None if value is None else -value
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _axes(call: ast.Call) -> tuple | None:
    """The constant axes a call names: ``x.permute(0, 3, 1, 2)``, ``np.transpose(x, (2, 0,
    1))`` (the array first when called as a function of ``np`` or ``torch``), ``dims=[-1]``."""
    func = call.func
    on_module = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
        and func.value.id in ("np", "numpy", "torch")
    nodes = list(call.args[1:] if on_module else call.args)
    nodes += [k.value for k in call.keywords if k.arg in ("axes", "axis", "dims", "dim")]
    if len(nodes) == 1 and isinstance(nodes[0], (ast.Tuple, ast.List)):
        nodes = nodes[0].elts
    axes = tuple(map(_int, nodes))
    return axes if axes and None not in axes else None


def _reverses_last_axis(node: ast.Subscript) -> bool:
    """``x[..., ::-1]`` or ``x[:, :, ::-1]`` (an HWC image's channels)."""
    index = node.slice
    if not isinstance(index, ast.Tuple) or len(index.elts) < 2:
        return False
    last = index.elts[-1]
    if not (isinstance(last, ast.Slice) and last.lower is None and last.upper is None
            and last.step is not None and _int(last.step) == -1):
        return False
    head = index.elts[:-1]
    if len(head) == 1 and isinstance(head[0], ast.Constant) and head[0].value is Ellipsis:
        return True
    return len(head) == 2 and all(isinstance(e, ast.Slice) and e.lower is None and e.upper is None
                                  and e.step is None for e in head)


def pixel_operations(node: ast.AST) -> str | None:
    """What pixel conversion ``node`` is, or None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _is_255(node.right):
        return "divides by 255"
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div) and _is_255(node.value):
        return "divides by 255"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) \
            and (_is_reciprocal_255(node.left) or _is_reciprocal_255(node.right)):
        return "multiplies by 1/255"
    if isinstance(node, ast.Subscript) and _reverses_last_axis(node):
        return "reverses the channel axis"
    if isinstance(node, ast.Attribute) and node.attr in COLOUR_SWAPS:
        return f"swaps colour channels ({node.attr})"
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else \
            node.func.id if isinstance(node.func, ast.Name) else ""
        if name in ("div", "div_", "divide", "true_divide") and any(map(_is_255, node.args)):
            return f"divides by 255 ({name})"
        axes = _axes(node)
        if name in ("transpose", "permute") and axes in CHANNELS_FIRST:
            return f"reorders to channels-first ({name}{axes})"
        if name in ("movedim", "moveaxis") and axes in ((-1, 1), (3, 1), (-1, 0), (2, 0)):
            return f"reorders to channels-first ({name}{axes})"
        if name == "flip" and axes == (-1,):  # the channels of HWC (flip(3) of NCHW: a mirror)
            return "reverses the channel axis (flip)"
    return None


def find_conversions(source: str, filename: str = "<snippet>") -> list[tuple[str, int, str]]:
    """``(function, line, what)`` for every pixel conversion in ``source``; ``function`` is the
    qualified name of the enclosing function (``"<module>"`` at module level)."""
    found = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = scope + (node.name,)
        what = pixel_operations(node)
        if what is not None:
            found.append((".".join(scope) or "<module>", node.lineno, what))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(ast.parse(source, filename), ())
    return found


def scanned_files() -> list[Path]:
    return sorted(p for folder in SCANNED for p in folder.rglob("*.py"))


def conversions() -> dict[tuple[str, str], list[str]]:
    """(file, function) -> the conversions found there, outside the owners."""
    out: dict[tuple[str, str], list[str]] = {}
    for path in scanned_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in OWNERS:
            continue
        for function, line, what in find_conversions(path.read_text(), rel):
            out.setdefault((rel, function), []).append(f"{rel}:{line} {what}")
    return out


def test_no_pixel_conversion_for_the_model_outside_preprocess():
    found = conversions()
    stray = [hit for key, hits in found.items() if key not in EXCEPTIONS for hit in hits]
    assert not stray, ("pixel conversion for the model outside preprocess.py: call "
                       "preprocess.to_input / to_input_tensor (or AttributeModel.predict) "
                       "instead:\n" + "\n".join(stray))


def test_every_exception_still_names_a_pixel_operation():
    # An exception that matches nothing would silently cover whatever is added there next.
    stale = sorted(set(EXCEPTIONS) - set(conversions()))
    assert not stale, f"remove these from EXCEPTIONS: {stale}"


def test_the_conversion_is_in_preprocess_and_the_scan_sees_it():
    found = find_conversions((ROOT / "src/genderage/preprocess.py").read_text())
    assert {function for function, _, _ in found} == {"to_input", "to_input_tensor"}
    assert len(scanned_files()) > 100  # the whole package, the tools and research


REINTRODUCED = [
    # the copies this test replaced (training/loop.py, training/onnx_init.py), as they were
    "t = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float().div_(255.0)",
    "x = torch.from_numpy(np.array(faces)).permute(0, 3, 1, 2).float() / 255.0",
    # and the usual ways to write one
    "x = faces.astype(np.float32) / 255.0",
    "x = faces.astype(np.float32) / 255",
    "x = faces / np.float32(255.0)",
    "x = faces.astype(np.float32) * (1 / 255)",
    "x = faces.astype(np.float32) * 0.00392156862745098",
    "x /= 255.0",
    "x = torch.div(t, 255)",
    "x = np.transpose(img, (2, 0, 1))",
    "x = img.transpose(0, 3, 1, 2)",
    "x = t.permute(0, 3, 1, 2)",
    "x = np.moveaxis(img, -1, 0)",
    "x = faces[..., ::-1]",
    "x = face[:, :, ::-1]",
    "x = t.flip(-1)",
    "x = cv2.cvtColor(face, cv2.COLOR_RGB2BGR)",
]


@pytest.mark.parametrize("line", REINTRODUCED)
def test_a_reintroduced_conversion_is_caught(line):
    snippet = f"def load(faces, img, face, t, x):\n    {line}\n    return x\n"
    assert {(f, n) for f, n, _ in find_conversions(snippet)} == {("load", 2)}


def test_a_conversion_pasted_into_a_real_module_fails_the_scan():
    path = ROOT / "src" / "genderage" / "evaluation" / "evaluate.py"
    source = path.read_text()
    assert find_conversions(source) == []
    pasted = source.replace("    faces = load_faces_plain(",
                            "    x = faces_u8.astype(np.float32) / 255.0\n"
                            "    faces = load_faces_plain(", 1)
    assert pasted != source
    assert [(f, what) for f, _, what in find_conversions(pasted)] == \
        [("evaluate", "divides by 255")]


@pytest.mark.parametrize("line", [
    "x = faces / 2",
    "gray = np.clip(np.rint(arr * (255.0 / peak)), 0, 255)",
    "v = 255 * gain * v",
    "both = np.concatenate([x, x[:, :, :, ::-1]])",  # mirror TTA: the width of NCHW
    "w = kernel.transpose(3, 2, 0, 1)",  # conv weights HWIO -> OIHW
    "z = seen[0].transpose(0, 1)",
    "rows = sorted(rows)[::-1]",
    "g = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)",
])
def test_other_arithmetic_is_not_a_conversion(line):
    snippet = f"def f(faces, arr, peak, gain, v, x, kernel, seen, rows, face):\n    {line}\n"
    assert find_conversions(snippet) == []
