"""Video and camera input: face tracking, per-person smoothing, one answer per person.

``genderage video`` (``commands/video.py``) is the command; :class:`.analysis.VideoAnalysis`
is the library entry point. This package file imports nothing, so the CLI can read the
defaults below without loading OpenCV or a model.
"""

DEFAULT_EVERY = 5
"""Run the detector on every 5th frame by default and track in between. Measured with
``benchmarks/bench_video.py`` (docs/video.md): on the 2 shared cores under heavy load, a
25 fps 640x480 video took 0.34-0.78 of its duration with 5, and 0.5-1.2 with 3; detecting
on every frame took about twice its duration. Five detections a second still give the
per-person average plenty of faces."""
