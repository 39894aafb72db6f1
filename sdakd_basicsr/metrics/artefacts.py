"""Two artefacts a young student shows against its teacher: a dark frame and a colour cast.

Both compare a student's output with the teacher's output for the same input, in grey levels (0-255):

- frame excess: the mean absolute error on the outer ``border`` pixels minus the mean absolute error inside
  them. Zero padding that a student has not yet learnt to compensate shows as a frame that is worse than the
  interior; a student without that artefact has a frame excess near 0.
- colour offsets: the mean of student − teacher per channel. A colour cast shows as an offset in one channel.
"""
import numpy as np

#: the limits a student without these artefacts keeps, in grey levels
FRAME_EXCESS_LIMIT = 2.0
COLOUR_OFFSET_LIMIT = 2.0


def _as_grey_levels(img):
    """uint8 images as they are, float images (in [0, 1], as the evaluation reads them) times 255."""
    img = np.asarray(img)
    return img.astype(np.float64) if img.dtype == np.uint8 else img.astype(np.float64) * 255.0


def frame_excess(student, teacher, border=4):
    """Mean |student − teacher| on the outer ``border`` pixels minus that of the interior, in grey levels.

    Args:
        student, teacher (ndarray): H x W x C images of one size, uint8, or float in [0, 1].
        border (int): Width of the frame in pixels.
    """
    s, t = _as_grey_levels(student), _as_grey_levels(teacher)
    if s.shape != t.shape:
        raise ValueError(f'student {s.shape} and teacher {t.shape} outputs differ in size')
    if min(s.shape[:2]) <= 2 * border:
        raise ValueError(f'images of {s.shape[:2]} have no interior inside a {border} px frame')
    error = np.abs(s - t)
    inner = np.zeros(error.shape[:2], dtype=bool)
    inner[border:-border, border:-border] = True
    return float(error[~inner].mean() - error[inner].mean())


def colour_offsets(student, teacher):
    """Mean of student − teacher per channel, in grey levels (a list, one value per channel)."""
    s, t = _as_grey_levels(student), _as_grey_levels(teacher)
    if s.shape != t.shape:
        raise ValueError(f'student {s.shape} and teacher {t.shape} outputs differ in size')
    return [float(v) for v in (s - t).reshape(-1, s.shape[-1]).mean(0)]


def artefact_report(student, teacher, border=4):
    """Frame excess, colour offsets and whether each stays within its limit."""
    excess, offsets = frame_excess(student, teacher, border), colour_offsets(student, teacher)
    return {'frame_excess': excess, 'colour_offsets': offsets,
            'frame_ok': excess <= FRAME_EXCESS_LIMIT,
            'colour_ok': all(abs(v) <= COLOUR_OFFSET_LIMIT for v in offsets)}
