"""Faces in ordinary photos for GCFSR students: find, align to the FFHQ template, super-resolve, paste back.

GCFSR works on aligned faces of its ``out_size`` (512 for the released models). facexlib's
``FaceRestoreHelper`` (the helper the face-restoration tools use) finds the faces and their five landmarks,
warps each face onto the FFHQ template, and pastes restored faces back into the upscaled photo with a soft mask.
The student's factor condition comes from the alignment: a face that is stretched by ``k`` to fill the template
is a ×k super-resolution problem, so ``in_size = k / cond_norm`` (clipped to the trained range).

facexlib downloads its detector and parsing weights unless they are on disk; nothing may download here, so the
helper is built from a local folder and a missing file is an error naming it (see ``docs/deployment.md``).
"""
import math
import os

import numpy as np

#: facexlib's detector names -> weight file the helper loads from ``model_rootpath``
DETECTOR_FILES = {'retinaface_resnet50': 'detection_Resnet50_Final.pth',
                  'retinaface_mobile0.25': 'detection_mobilenet0.25_Final.pth'}
#: FaceRestoreHelper also loads its face parser, even when it does not use it
PARSER_FILE = 'parsing_parsenet.pth'
#: where facexlib publishes these files (v0.1.0: detectors, v0.2.2: parser)
RELEASES = 'https://github.com/xinntao/facexlib/releases'
#: GCFSR's training factors (options/teachers/train_gcfsr_512.yml): 4 … 32
DEFAULT_FACTOR_RANGE = (4.0, 32.0)


def required_face_files(det_model):
    """The weight files FaceRestoreHelper needs for detector ``det_model``."""
    if det_model not in DETECTOR_FILES:
        raise ValueError(f'unknown face detector {det_model!r}; choose one of {sorted(DETECTOR_FILES)}')
    return [DETECTOR_FILES[det_model], PARSER_FILE]


def check_face_weights(model_dir, det_model='retinaface_resnet50'):
    """Raise FileNotFoundError naming every missing facexlib weight file in ``model_dir``."""
    missing = [name for name in required_face_files(det_model)
               if not os.path.isfile(os.path.join(model_dir or '', name))]
    if missing:
        raise FileNotFoundError(
            f'face weights missing in --face-model-dir {model_dir!r}: {", ".join(missing)}. Download them from '
            f'{RELEASES} (v0.1.0 for the detector, v0.2.2 for {PARSER_FILE}) on a machine with network and put '
            f'them in that folder (default: experiments/pretrained_models/facexlib); nothing is downloaded at '
            'run time.')


def build_face_helper(upscale, face_size=512, model_dir='experiments/pretrained_models/facexlib',
                      det_model='retinaface_resnet50', device='cpu'):
    """facexlib's FaceRestoreHelper with its weights from ``model_dir`` (checked first, never downloaded)."""
    import torch
    from facexlib.utils.face_restoration_helper import FaceRestoreHelper
    check_face_weights(model_dir, det_model)
    return FaceRestoreHelper(upscale, face_size=face_size, det_model=det_model, use_parse=False,
                             device=torch.device(device), model_rootpath=model_dir)


def alignment_factor(affine_matrix):
    """How much a (2, 3) similarity transform enlarges the face: its scale."""
    return math.sqrt(abs(np.linalg.det(np.asarray(affine_matrix)[:, :2])))


class FacePhotoRestorer:
    """Super-resolve a photo: faces by a GCFSR student, the rest resized (or by a background upsampler).

    Args:
        helper (FaceRestoreHelper): From :func:`build_face_helper`; its ``upscale_factor`` is the photo's.
        runner (StudentRunner): The GCFSR student (``restore_face``).
        factor_range (tuple[float, float]): The factor condition is clipped to this range (the trained one).
        background (callable | None): HWC BGR uint8 -> upscaled image (e.g. a Real-ESRGAN student); None:
            facexlib's Lanczos resize.
        factor (float | None): A fixed factor condition for every face instead of the estimated one.
    """

    def __init__(self, helper, runner, factor_range=DEFAULT_FACTOR_RANGE, background=None, factor=None):
        self.helper, self.runner = helper, runner
        self.factor_range, self.factor = factor_range, factor
        self.background = background
        self.last_factors = []

    def __call__(self, img, landmarks=None, eye_dist_threshold=5):
        """Restore ``img`` (HWC BGR uint8).

        Args:
            img (ndarray): The photo.
            landmarks (list[ndarray] | None): Five (x, y) landmarks per face (eyes, nose, mouth corners, as
                facexlib's detector gives them); None: detect them.
            eye_dist_threshold (float): Detected faces with eyes closer than this (pixels) are skipped.

        Returns:
            tuple[ndarray, int]: The upscaled photo (uint8) and the number of faces restored.
        """
        from basicsr.utils import img2tensor, tensor2img
        helper = self.helper
        helper.clean_all()
        helper.read_image(img)
        if landmarks is None:
            helper.get_face_landmarks_5(eye_dist_threshold=eye_dist_threshold)
        else:
            helper.all_landmarks_5 = [np.asarray(points, dtype=np.float32).reshape(5, 2) for points in landmarks]
        helper.align_warp_face()
        self.last_factors = []
        for face, affine in zip(helper.cropped_faces, helper.affine_matrices):
            factor = self.factor or float(np.clip(alignment_factor(affine), *self.factor_range))
            self.last_factors.append(factor)
            tensor = img2tensor(face.astype(np.float32) / 255.0, bgr2rgb=True, float32=True).unsqueeze(0)
            restored = self.runner.restore_face(tensor, factor)
            helper.add_restored_face(tensor2img(restored, rgb2bgr=True, min_max=(0, 1)))
        helper.get_inverse_affine(None)
        upsampled = self.background(img) if self.background is not None else None
        return helper.paste_faces_to_input_image(upsample_img=upsampled), len(helper.cropped_faces)
