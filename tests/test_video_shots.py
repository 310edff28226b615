"""Shot cuts: the detector on synthetic programmes with known cuts, and tracks that end there.

The programmes (``video_synth.programme``) cut between shots of one or two faces that drift,
zoom, blur and flicker; half the cuts keep the same studio wall (another speaker in the
same place). Faces: AAF adults from ``../shared`` when present, else the astronaut and
variants of her (mirrored, brighter, cropped), so the test always runs.
"""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from genderage.cli import main
from genderage.video.shots import ShotDetector
from video_synth import Shot, astronaut_portrait, place, programme, write_video


def portraits(shared_root) -> list[np.ndarray]:
    labels = shared_root / "data" / "AAF" / "labels.csv"
    if labels.is_file():
        rows = [r for r in csv.DictReader(labels.open()) if 25 <= int(r["age"]) <= 60]
        rng = np.random.default_rng(0)
        picked = [rows[i] for i in rng.choice(len(rows), 30, replace=False)]
        return [cv2.cvtColor(cv2.imread(str(labels.parent / r["file"])), cv2.COLOR_BGR2RGB)
                for r in picked]
    face = astronaut_portrait()
    return [face, face[:, ::-1], np.clip(face.astype(np.int16) + 30, 0, 255).astype(np.uint8),
            face[20:, 10:-10], face[:, ::-1][:-30]]


def random_programme(photos, rng, n_shots=8):
    shots, wall = [], tuple(int(x) for x in rng.integers(30, 220, 3))
    for _ in range(n_shots):
        if rng.random() < 0.5:
            wall = tuple(int(x) for x in rng.integers(30, 220, 3))  # else the same studio
        n = int(rng.integers(1, 3))
        faces = tuple((photos[rng.integers(len(photos))], (i + 0.5) / n + rng.uniform(-.1, .1),
                       rng.uniform(70, 140)) for i in range(n))
        shots.append(Shot(int(rng.integers(10, 40)), wall, faces))
    return shots


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_cuts_are_found_and_no_frame_inside_a_shot_is_one():
    """Held out from the programmes the thresholds were set on (other seeds): at least 95%
    of cuts found (the misses are same-wall cuts between similar faces), no false cut."""
    from conftest import SHARED

    photos = portraits(SHARED)
    rng = np.random.default_rng(2026)
    n_cuts, missed, false = 0, [], []
    for seed in range(6):
        frames, cuts = programme(random_programme(photos, rng), seed=seed)
        detector = ShotDetector()
        for i, frame in enumerate(frames):
            verdict = detector.update(frame)
            if i in cuts and not verdict.cut:
                missed.append((seed, i, verdict))
            elif verdict.cut and i not in cuts:
                false.append((seed, i, verdict))
        n_cuts += len(cuts)
    print(f"\nshot cuts: {n_cuts - len(missed)}/{n_cuts} found, {len(false)} false; "
          f"missed: {missed}")
    assert not false, false
    assert n_cuts >= 40 and len(missed) <= 0.05 * n_cuts, missed


def test_pans_flicker_and_a_board_on_one_side_are_not_cuts():
    rng = np.random.default_rng(1)
    face = astronaut_portrait()
    wide = np.clip(np.full((240, 1600, 3), (90, 120, 150), np.float32)
                   * np.linspace(0.6, 1.3, 1600)[None, :, None], 0, 255).astype(np.uint8)
    for i in range(12):
        place(wide, face if i % 2 else face[:, ::-1], 60 + i * 130, 120 + rng.uniform(-40, 40),
              rng.uniform(70, 130))
    for speed in (4, 8, 32):  # pixels per frame of a 320-pixel-wide view
        detector = ShotDetector()
        cuts = [detector.update(wide[:, t * speed:t * speed + 320].copy()).cut
                for t in range(1280 // speed)]
        assert not any(cuts), speed
    frames, _ = programme([Shot(40, (100, 110, 120), ((face, 0.5, 120),))])
    detector = ShotDetector()
    for i, frame in enumerate(frames):
        if i == 10:
            frame = np.clip(frame.astype(np.float32) * 1.8, 0, 255).astype(np.uint8)  # flash
        if 20 <= i <= 28:
            frame = frame.copy()
            frame[:, :150] = (128, 128, 128)  # a board in front of the left side
        assert not detector.update(frame).cut, i


def test_a_track_never_spans_a_cut(tmp_path, model_path):
    """Two shots, the same place on screen, another face after the cut (frame 23, between
    two detections): two tracks, the second starting on the cut frame; each shot's seconds
    are its own."""
    face = astronaut_portrait()
    other = np.clip(face[:, ::-1].astype(np.int16) + 25, 0, 255).astype(np.uint8)
    frames, cuts = programme([Shot(23, (70, 90, 120), ((face, 0.5, 120),)),
                              Shot(27, (150, 120, 80), ((other, 0.5, 120),))])
    video = write_video(tmp_path / "cut.mp4", frames, 25.0)
    out = tmp_path / "tracks.jsonl"
    assert main(["video", str(video), "--out", str(out), "--model", str(model_path),
                 "--no-progress"]) == 0
    tracks = [json.loads(line) for line in out.read_text().splitlines()]
    assert [t["shot"] for t in tracks] == [0, 1]
    first, second = tracks
    assert first["last_frame"] < cuts[0] == second["first_frame"]
    assert first["on_screen_s"] == pytest.approx(23 / 25, abs=1e-3)
    assert second["on_screen_s"] == pytest.approx(27 / 25, abs=1e-3)
