"""Video and camera input: face tracking, per-person smoothing, one answer per person.

``genderage video`` (``commands/video.py``) is the command; :class:`.analysis.VideoAnalysis`
is the library entry point. This package file imports nothing, so the CLI can read the
defaults below without loading OpenCV or a model.
"""

DEFAULT_EVERY = 3
"""Run the detector on every 3rd frame by default and track in between. Measured with
``benchmarks/bench_video.py`` (docs/video.md): a 25 fps 640x480 video is then processed
faster than real time on 2 shared cores, with room to spare; detecting on every frame is not
reliably real time there."""
