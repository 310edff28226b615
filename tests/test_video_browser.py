"""``video --annotate`` writes a file Chromium plays, with the source's sound (#28 item 18).

Needs PyAV (``genderage[video]``); the playback part needs Debian's ``chromium`` and
``playwright`` (tests/headless_browser.py) and skips without them.
The source video (H.264 with an AAC tone) is made here with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from genderage.cli import main  # noqa: E402
from headless_browser import chromium  # noqa: E402
from video_synth import animate, astronaut_portrait  # noqa: E402

FPS, N_FRAMES, RATE = 25, 50, 48000


def source_with_audio(path: Path) -> Path:
    frames = animate([astronaut_portrait()], size=(320, 240), n_frames=N_FRAMES)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=RATE)
        t = np.arange(RATE * N_FRAMES // FPS) / RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for start in range(0, len(tone), 1024):
            chunk = tone[start:start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode())
    return path


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_annotated_video_is_h264_with_the_sound_and_plays_in_chromium(tmp_path, model_path):
    source = source_with_audio(tmp_path / "talk.mp4")
    annotated = tmp_path / "annotated.mp4"
    assert main(["video", str(source), "--model", str(model_path), "--no-progress",
                 "--annotate", str(annotated), "--out", str(tmp_path / "t.jsonl")]) == 0
    with av.open(str(annotated)) as f:
        video, audio = f.streams.video[0], f.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert sum(1 for _ in f.decode(video=0)) == N_FRAMES
    with av.open(str(annotated)) as f:
        seconds = sum(fr.samples for fr in f.decode(audio=0)) / RATE
    assert seconds == pytest.approx(N_FRAMES / FPS, abs=0.1)
    assert annotated.stat().st_size < 3 * source.stat().st_size

    (tmp_path / "page.html").write_text(
        '<video id="v" src="annotated.mp4" muted playsinline></video>')
    (tmp_path / "profile").mkdir()
    with chromium(tmp_path / "profile", ("--autoplay-policy=no-user-gesture-required",)) as browser:
        page = browser.new_page()
        page.goto((tmp_path / "page.html").as_uri())
        state = page.evaluate("""() => new Promise((resolve) => {
            const v = document.getElementById('v');
            const done = () => resolve({error: v.error && v.error.code, time: v.currentTime,
                                        width: v.videoWidth, duration: v.duration});
            v.addEventListener('error', done);
            v.addEventListener('timeupdate', () => { if (v.currentTime > 0.3) done(); });
            v.play().catch(done);
            setTimeout(done, 15000);
        })""")
    assert state["error"] is None, state  # was MEDIA_ERR_SRC_NOT_SUPPORTED (4) with mp4v
    assert state["width"] == 320 and state["time"] > 0.3
    assert state["duration"] == pytest.approx(N_FRAMES / FPS, abs=0.1)
