"""``genderage label RESULTS --out LABELS.csv``: label a random sample of the faces (or, on a
tracks table of ``genderage video``, of the tracks) in a web page on this machine (needs the
``serve`` and ``report`` extras)."""

from __future__ import annotations

from pathlib import Path

from . import positive_int


def add_parser(sub):
    p = sub.add_parser(
        "label", help="label a random sample of your faces, to check the report's numbers",
        description="Show the faces of `genderage batch` results one at a time, in a seeded "
                    "random order, on a web page on this machine (127.0.0.1), and append each "
                    "answer (gender, age, can't tell, not a face) to LABELS.csv. Re-running "
                    "resumes. Then: genderage report RESULTS --labels LABELS.csv. On a tracks "
                    "table of `genderage video` each track is one item, shown by its best "
                    "frame. Faces are cut from the original images or videos in memory; "
                    "nothing is written but the labels. Method: docs/report.md.")
    p.add_argument("results", type=Path, metavar="RESULTS",
                   help="output of `genderage batch` (a Parquet file or folder), or a "
                        "Parquet tracks table of `genderage video`")
    p.add_argument("--out", type=Path, required=True, metavar="LABELS.csv",
                   help="the labels file (created, or resumed when it exists)")
    p.add_argument("--n", type=positive_int, default=300,
                   help="faces (or tracks) to label (default: 300; `genderage report --plan` "
                        "says how many a given interval width needs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random order (default: 0)")
    p.add_argument("--by", metavar="COLUMN",
                   help="stratify the sample by this column of the results (each value gets "
                        "labels in proportion to the square root of its faces)")
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true",
                   help="do not open the page in the browser (print its address only)")
    p.set_defaults(run=run)


def run(args) -> int:
    import socket
    import webbrowser

    try:
        import uvicorn

        from ..label.app import LabelSession, create_label_app, summary
    except ImportError as exc:
        from ..errors import CliError

        raise CliError(f"label needs the 'serve' and 'report' extras: pip install "
                       f"'genderage[serve,report]' ({exc})") from None
    session = LabelSession(args.results, args.out, n=args.n, seed=args.seed, by=args.by)
    print(summary(session))
    if session.state()["finished"]:
        print(f"nothing left to label; to label more, re-run with --n larger than {session.n}")
        return 0
    port = args.port
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    print(f"labelling page: {url} (Ctrl+C to stop; every answer is already saved in "
          f"{args.out})")
    if not args.no_browser:
        webbrowser.open(url)
    uvicorn.run(create_label_app(session), host="127.0.0.1", port=port, access_log=False,
                log_level="warning", server_header=False)
    print(summary(session))
    return 0
