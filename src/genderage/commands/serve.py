"""``genderage serve``: the HTTP API and web page on uvicorn (needs the ``serve`` extra)."""

from __future__ import annotations

from . import (add_face_options, add_precision_argument, add_renamed_argument, face_options,
               positive_float, positive_int)


def add_parser(sub):
    p = sub.add_parser(
        "serve", help="run the HTTP API and web page",
        description="Serve POST /v1/predict, GET /healthz, the API docs at /docs and a web "
                    "page at /. Images are analysed in memory and never stored or logged.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--model", metavar="PATH", help="attribute model .onnx (default: shipped)")
    add_precision_argument(p)
    p.add_argument("--detector", metavar="SPEC",
                   help="detector backend name or .onnx path (default: the built-in one)")
    p.add_argument("--flip-tta", action="store_true",
                   help="accuracy mode: average each face with its mirror image (twice the "
                        "model's cost)")
    add_face_options(p)
    add_renamed_argument(p, "--workers", ("--workers-threads",), type=positive_int, default=2,
                         metavar="N", help="images analysed at the same time, each by a "
                                           "thread of this process sharing its one model "
                                           "(default: 2)")
    p.add_argument("--no-access-log", action="store_true",
                   help="do not log requests (the access log holds method, path and status; "
                        "never the body)")
    p.add_argument("--log-client-address", action="store_true",
                   help="add the client's address and port to each access log line")
    p.add_argument("--header-timeout", type=positive_float, default=10.0, metavar="S",
                   help="close a connection whose request headers are not all in after S "
                        "seconds (default: 10)")
    p.add_argument("--body-timeout", type=positive_float, default=60.0, metavar="S",
                   help="answer 408 to a request whose body is not all in after S seconds "
                        "(default: 60)")
    p.add_argument("--max-connections", type=positive_int, metavar="N",
                   help="open connections at most; more are closed at once (default: 1024, "
                        "and 64 below the file descriptor limit)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import CliError

    try:
        import uvicorn

        from ..serve import create_app
        from ..serve.guard import ACCEPT_BACKLOG, guarded_protocol
        from ..serve.logs import uvicorn_log_config
    except ImportError as exc:
        raise CliError(f"serve needs the 'serve' extra: pip install 'genderage[serve]' "
                       f"({exc})") from None
    from ..detect import DetectorError

    knobs = face_options(args)
    try:
        model = args.model
        if args.precision is not None:
            from ..pipeline import resolve_model_path

            model = resolve_model_path(args.model, args.precision)
        app = create_app(model=model, detector=args.detector,
                         threads=args.workers, flip_tta=args.flip_tta,
                         body_timeout_s=args.body_timeout, **knobs)
    except DetectorError as exc:
        raise CliError(str(exc)) from None
    uvicorn.run(app, host=args.host, port=args.port, access_log=not args.no_access_log,
                log_config=uvicorn_log_config(args.log_client_address,
                                              "DEBUG" if args.verbose else "INFO"),
                server_header=False,
                http=guarded_protocol(args.header_timeout, args.max_connections),
                backlog=ACCEPT_BACKLOG)
    return 0
