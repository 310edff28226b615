"""The IoU + motion tracker: golden overlaps, greedy matching, ids kept through gaps."""

import numpy as np
import pytest

from genderage.video.tracker import Tracker, greedy_match, iou_matrix


def test_iou_golden_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 5, 5]])
    expected = np.array([[50 / 150, 1.0, 0.0, 25 / 100], [0, 0, 0, 0]])
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 4)


def test_greedy_match_takes_best_pairs_first_and_respects_threshold():
    iou = np.array([[0.9, 0.8, 0.0],
                    [0.85, 0.1, 0.0],
                    [0.0, 0.0, 0.2]])
    # (0,0) first; row 1 then has only col 1 at 0.1 (< 0.3); row 2 is below threshold.
    assert greedy_match(iou, 0.3) == [(0, 0)]
    assert greedy_match(iou, 0.05) == [(0, 0), (2, 2), (1, 1)]
    assert greedy_match(np.zeros((0, 2)), 0.3) == []


def box(cx, cy, size=40.0):
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def test_two_faces_keep_their_ids_while_moving():
    tracker = Tracker()
    for frame in range(0, 60, 3):
        ids, ended = tracker.update(frame, [box(50 + frame, 60), box(200 - frame, 60)])
        assert ids == [1, 2] and ended == []
    assert tracker.tracks[0].velocity == pytest.approx([1, 0, 1, 0], abs=1e-6)
    assert tracker.tracks[1].velocity == pytest.approx([-1, 0, -1, 0], abs=1e-6)


def test_missed_detections_and_occlusion_keep_the_id():
    tracker = Tracker(max_gap=10)
    positions = {f: box(40 + 4 * f, 50) for f in range(20)}
    for f in range(8):
        assert tracker.update(f, [positions[f]])[0] == [1]
    for f in range(8, 16):  # unseen for 8 frames; the face moved 32 px meanwhile
        ids, ended = tracker.update(f, [])
        assert ids == [] and ended == []
    predicted = dict(tracker.predict(16))[1]
    np.testing.assert_allclose(predicted, positions[16], atol=1e-6)
    assert tracker.update(16, [positions[16]])[0] == [1]


def test_a_stopped_face_is_found_where_it_was_last_seen():
    tracker = Tracker(max_gap=30)
    for f in range(5):
        tracker.update(f, [box(40 + 6 * f, 50)])
    # The face stops; the detector misses it for 20 frames; velocity would put it 120 px on.
    assert tracker.update(25, [box(64, 50)])[0] == [1]


def test_a_track_ends_after_max_gap_and_a_new_face_gets_a_new_id():
    tracker = Tracker(max_gap=5)
    tracker.update(0, [box(50, 50)])
    ids, ended = tracker.update(5, [])
    assert ended == []
    ids, ended = tracker.update(6, [box(50, 50)])
    assert [t.track_id for t in ended] == [1] and ids == [2]
    assert [t.track_id for t in tracker.finish()] == [2] and tracker.tracks == []


def test_far_detection_starts_a_new_track_not_a_jump():
    tracker = Tracker()
    tracker.update(0, [box(50, 50)])
    ids, _ = tracker.update(1, [box(250, 50)])
    assert ids == [2]
    assert {t.track_id for t in tracker.tracks} == {1, 2}
