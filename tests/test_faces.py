"""Faces in photos for GCFSR students: align -> super-resolve -> paste back, with known landmarks (no detector)."""
import numpy as np
import pytest
import torch

import sdakd_basicsr  # noqa: F401

from helpers import TINY_GCFSR_SDAKD_YML
from sdakd_basicsr.deploy import faces
from sdakd_basicsr.deploy.runner import StudentRunner
from test_export import make_training_checkpoint

facexlib_helper = pytest.importorskip('facexlib.utils.face_restoration_helper',
                                      reason='facexlib is not installed (pip install facexlib==0.3.0)')

#: the astronaut's eyes, nose tip and mouth corners in scikit-image's 512 x 512 photo (read off the image)
ASTRONAUT_LANDMARKS = np.array([[198, 100], [240, 100], [220, 124], [203, 146], [238, 146]], dtype=np.float32)


@pytest.fixture
def photo():
    import skimage.data
    return np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])  # BGR, as cv2 reads it


@pytest.fixture
def helper_without_detector(monkeypatch):
    """facexlib's helper with its detector and parser left out: their weights cannot be downloaded here."""
    def factory(upscale, face_size):
        monkeypatch.setattr(facexlib_helper, 'init_detection_model', lambda *args, **kwargs: None)
        monkeypatch.setattr(facexlib_helper, 'init_parsing_model', lambda *args, **kwargs: None)
        return facexlib_helper.FaceRestoreHelper(upscale, face_size=face_size, use_parse=False, device='cpu')
    return factory


class IdentityFaceModel:
    """Returns the aligned face unchanged, recording the factors asked for: isolates the geometry."""

    def __init__(self):
        self.factors = []

    def restore_face(self, face, factor):
        self.factors.append(factor)
        return face


def test_missing_face_weights_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        faces.build_face_helper(2, model_dir=str(tmp_path))
    message = str(error.value)
    assert 'detection_Resnet50_Final.pth' in message and 'parsing_parsenet.pth' in message
    assert str(tmp_path) in message
    (tmp_path / 'detection_Resnet50_Final.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='parsing_parsenet.pth') as error:
        faces.check_face_weights(str(tmp_path))
    assert 'detection_Resnet50_Final' not in str(error.value)


def test_align_and_paste_back_put_the_face_where_it_was(photo, helper_without_detector):
    """With an identity 'model', align -> paste back reproduces the upscaled photo in the face region."""
    import cv2
    upscale = 2
    model = IdentityFaceModel()
    restorer = faces.FacePhotoRestorer(helper_without_detector(upscale, 512), model, factor_range=(0.1, 64))
    out, num_faces = restorer(photo, landmarks=[ASTRONAUT_LANDMARKS])
    assert num_faces == 1 and out.shape == (1024, 1024, 3) and out.dtype == np.uint8

    # factor condition = how much the face is enlarged onto the 512 template: about 126 / 42 eye distances
    assert model.factors == pytest.approx([3.0], rel=0.1)
    resized = cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    face_box = (slice(2 * 70, 2 * 170), slice(2 * 180, 2 * 260))  # eyes to chin
    diff = np.abs(out.astype(np.float32) - resized)
    # the face went through a 3x warp and back: interpolation blur only (mean error ~3.7 of 255), and no shift:
    # the paste-back matches the resized photo best where it is, not displaced by a pixel or more
    errors = {(dy, dx): np.abs(np.roll(out.astype(np.float32), (dy, dx), axis=(0, 1)) - resized)[face_box].mean()
              for dy in range(-2, 3) for dx in range(-2, 3)}
    assert min(errors, key=errors.get) == (0, 0), errors
    assert errors[0, 0] < 6.0
    far = (slice(800, 1024), slice(0, 200))  # bottom-left, far from the face: untouched background
    assert diff[far].max() <= 1.0


def test_gcfsr_student_restores_the_face_and_leaves_the_rest(tmp_path, photo, helper_without_detector):
    from sdakd_basicsr.deploy.student import load_student
    path, _ = make_training_checkpoint(str(tmp_path), TINY_GCFSR_SDAKD_YML)
    net, spec = load_student(path, TINY_GCFSR_SDAKD_YML)
    runner = StudentRunner(net, spec, backend='eager')
    seen = []
    original = runner.backend.fn
    runner.backend.fn = lambda *inputs: seen.append([t.clone() for t in inputs]) or original(*inputs)
    face_size = spec.network_g['out_size']  # 64: the template and the crop follow the student's size
    restorer = faces.FacePhotoRestorer(helper_without_detector(2, face_size), runner, factor_range=(4, 32))
    out, num_faces = restorer(photo, landmarks=[ASTRONAUT_LANDMARKS, ASTRONAUT_LANDMARKS + [200, 250]])
    assert num_faces == 2 and out.shape == (1024, 1024, 3)
    # the 64-px template shrinks the 42-px eye distance, a factor below 4: clipped to GCFSR's range
    assert restorer.last_factors == [4.0, 4.0]
    assert len(seen) == 2 and seen[0][0].shape == (1, 3, 64, 64)
    assert torch.allclose(seen[0][1], torch.full((1, 1), 4.0 / spec.cond_norm))
    assert seen[0][0].min() >= -1 and seen[0][0].max() <= 1  # GCFSR's value range
    import cv2
    resized = cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
    diff = np.abs(out.astype(np.float32) - resized)
    assert diff[2 * 90:2 * 150, 2 * 190:2 * 250].mean() > 5  # the (random-weight) student's face is pasted
    assert diff[900:, :150].max() <= 1.0  # far from both faces: the resized photo
