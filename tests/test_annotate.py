"""Annotated copies: labels stay inside the image and off each other (group photos)."""

from __future__ import annotations

import numpy as np
import pytest

from genderage.annotate import _overlap, draw_faces, face_label, layout_labels, place_labels
from genderage.quality import Quality
from genderage.results import Face


def face(x1, y1, x2, y2, gender="female") -> Face:
    q = Quality(0.99, 40.0, x2 - x1, 100.0, 0.0, 0.0, 0.0, False, ())
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return Face((x1, y1, x2, y2), ((cx - 10, cy), (cx + 10, cy), (cx, cy + 5),
                                   (cx - 8, cy + 15), (cx + 8, cy + 15)),
                0.99, gender, 0.93, 31.0, (25.0, 38.0), q,
                0.93 if gender == "female" else 0.07)


def inside(r, width, height) -> bool:
    x, y, w, h = r
    return 0 <= x and 0 <= y and x + w <= width and y + h <= height


def test_a_row_of_close_faces_gets_labels_that_do_not_overlap():
    # Five faces side by side, each 60 px wide, labels 150 px wide: a group photo.
    boxes = [(40 + 70 * i, 100, 100 + 70 * i, 160) for i in range(5)]
    rects = place_labels(boxes, [(150, 20)] * 5, 480, 320)
    assert all(inside(r, 480, 320) for r in rects)
    assert not any(_overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_a_label_at_the_right_edge_stays_inside():
    rects = place_labels([(560, 10, 630, 90)], [(200, 24)], 640, 480)
    (x, y, w, h), = rects
    assert x + w == 640 and y == 90  # no room above: below the box, moved left


def test_the_first_choice_is_above_the_box():
    assert place_labels([(100, 100, 200, 200)], [(80, 20)], 640, 480) == [(100, 80, 80, 20)]


def test_no_room_left_overlaps_rather_than_leaving_the_image():
    rects = place_labels([(0, 0, 30, 30)] * 3, [(40, 20)] * 3, 40, 20)
    assert all(inside(r, 40, 20) for r in rects)


def test_real_labels_of_a_group_photo_are_laid_out_apart_and_inside():
    faces = [face(10 + 50 * i, 80, 50 + 50 * i, 120) for i in range(5)]
    texts = [face_label(f) for f in faces]
    _, _, rects = layout_labels(texts, [f.bbox for f in faces], 260, 200)
    assert all(inside(r, 260, 200) for r in rects)
    assert not any(_overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])
    out = draw_faces(np.full((200, 260, 3), 50, np.uint8), faces)
    for x, y, w, h in rects:  # each label background is drawn where it was placed
        assert np.all(out[y + 1, x + 1] == (230, 80, 160)) or np.all(out[y + h - 2, x + w - 2] == (230, 80, 160))


@pytest.mark.parametrize("width", [60, 90])
def test_font_shrinks_so_the_widest_label_fits(width):
    texts = [face_label(face(10, 100, 60, 150))]
    scale, _, ((x, y, w, h),) = layout_labels(texts, [(10, 100, 60, 150)], width, 300)
    assert scale < 0.4 and 0 <= x and x + w <= width  # 0.4 is the smallest unshrunk scale
