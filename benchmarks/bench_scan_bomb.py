"""CPU seconds to decode JPEG scan bombs with and without the scan guard (#28 item 1).

    PYTHONPATH=src:tests python benchmarks/bench_scan_bomb.py

Each bomb is a progressive JPEG whose last refinement scan header is repeated (one data byte
each): "unguarded" is Pillow's decode as genderage did before the guard, "guarded" is
``decode_image`` (refused from the marker count). Also a normal 6000x6000 progressive JPEG.
"""

import io
import time
import warnings

from jpeg_bomb import progressive_jpeg, scan_bomb
from PIL import Image

from genderage.imageio import ImageDecodeError, decode_image


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def unguarded(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as img:
            img.load()


def guarded(data: bytes) -> str:
    try:
        decode_image(data, "bomb.jpg")
    except ImageDecodeError as exc:
        return exc.kind
    return "decoded"


def main() -> None:
    print("| image | bytes | scans | unguarded CPU s | guarded CPU s | guarded result |")
    print("|---|---:|---:|---:|---:|---|")
    cases = [("2000x2000 + 5,000 scans", scan_bomb(2000, 2000, 5000)),
             ("4000x4000 + 20,000 scans", scan_bomb(4000, 4000, 20000)),
             ("6000x6000 progressive, normal", progressive_jpeg(6000, 6000))]
    for label, data in cases:
        scans = data.count(b"\xff\xda")
        results = []
        t_new = cpu(lambda: results.append(guarded(data)))
        t_old = cpu(lambda: unguarded(data))
        print(f"| {label} | {len(data):,} | {scans:,} | {t_old:.2f} | {t_new:.3f} | {results[0]} |")


if __name__ == "__main__":
    main()
