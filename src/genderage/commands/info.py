import json
import platform

from .. import __version__


def add_parser(sub):
    p = sub.add_parser("info", help="version, default model and runtime information")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..onnx_runtime import load_onnxruntime

    onnxruntime = load_onnxruntime()

    from ..pipeline import resolve_model_path

    try:
        path = resolve_model_path(None)   # the file GenderAge() loads (int8 when shipped)
    except FileNotFoundError:
        path = None
    info = {
        "version": __version__,
        "model_path": str(path) if path else None,
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0
