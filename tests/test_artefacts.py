"""The dark-frame and colour-cast measurements catch the artefacts they are for, and only those."""
import numpy as np
import pytest
import skimage.data

from sdakd_basicsr.metrics.artefacts import artefact_report, colour_offsets, frame_excess


@pytest.fixture
def teacher():
    return skimage.data.chelsea()[:128, :128].astype(np.uint8)


def test_a_faithful_student_has_neither_artefact(teacher):
    noise = np.random.default_rng(0).normal(0, 3, teacher.shape)
    student = np.clip(teacher + noise, 0, 255).astype(np.uint8)
    report = artefact_report(student, teacher)
    assert report['frame_ok'] and report['colour_ok'], report


def test_a_dark_two_pixel_frame_is_caught(teacher):
    student = teacher.copy()
    for frame in (np.s_[:2], np.s_[-2:], np.s_[:, :2], np.s_[:, -2:]):
        student[frame] = (0.6 * student[frame]).astype(np.uint8)
    assert frame_excess(student, teacher) > 10
    assert not artefact_report(student, teacher)['frame_ok']


def test_a_colour_cast_is_caught_in_its_channel(teacher):
    student = teacher.copy()
    student[..., 2] = np.minimum(student[..., 2], 247) + 8
    teacher = teacher.copy()
    teacher[..., 2] = np.minimum(teacher[..., 2], 247)
    offsets = colour_offsets(student, teacher)
    assert offsets[2] == pytest.approx(8) and abs(offsets[0]) < 1e-9
    assert not artefact_report(student, teacher)['colour_ok']


def test_float_images_in_unit_range_are_measured_in_grey_levels(teacher):
    student = teacher.astype(np.float64) + 4
    assert colour_offsets(student / 255, teacher / 255) == pytest.approx([4, 4, 4])
    assert colour_offsets(student.astype(np.uint8), teacher) == pytest.approx([4, 4, 4])
