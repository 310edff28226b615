import json
import platform

from .. import __version__
from . import add_face_options, face_options


def add_parser(sub):
    p = sub.add_parser("info", help="version, default model, detector and runtime information")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--detector", metavar="SPEC",
                   help="describe this detector backend or .onnx path (default: the built-in one)")
    add_face_options(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..onnx_runtime import load_onnxruntime

    onnxruntime = load_onnxruntime()

    from ..errors import CliError
    from ..detect import DetectorError, available_detectors, create_detector
    from ..detect.registry import DEFAULT_DETECTOR
    from ..options import FaceOptions
    from ..pipeline import detector_settings, resolve_model_path

    knobs = face_options(args)
    try:
        path = resolve_model_path(None)   # the file GenderAge() loads (int8 when shipped)
    except FileNotFoundError:
        path = None
    try:
        detector = detector_settings(
            create_detector(args.detector, score_threshold=knobs["det_threshold"],
                            min_face=knobs["min_face"]), FaceOptions(**knobs))
    except DetectorError as exc:
        if args.detector is not None:
            raise CliError(str(exc)) from None
        detector = {"detector": DEFAULT_DETECTOR, "error": str(exc)}  # info still answers
    info = {
        "version": __version__,
        "model_path": str(path) if path else None,
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
        "detector": detector,
        "detectors": available_detectors(),
        "min_gender_probability": knobs["min_gender_probability"],
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0
