"""Scale-conditioned face datasets for GCFSR teachers and their SDAKD students.

GCFSR's input is the HR face bicubic-downscaled by a factor ``s`` and upscaled back to the output size, so
input and target have the same size; the generator is conditioned on ``in_size = s / cond_norm``. The
helpers below are also used by the preparation scripts in ``datasets/``.
"""
import math
import os
import random
from os import path as osp

import cv2
import numpy as np
import torch
from torch.utils import data as data
from torchvision.transforms.functional import normalize

from basicsr.utils import FileClient, imfrombytes, img2tensor
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import DATASET_REGISTRY

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')
DEFAULT_SCALES = (32, 32, 32, 32, 16, 16, 8, 8, 4)  # GCFSR's recipe: half the samples at x32
RESIZE_FILTERS = ('lanczos', 'bicubic', 'area')


# ----------------------------------------------------------------------------------------------------------
# image helpers (numpy, HWC, values in [0, 1] unless stated)
# ----------------------------------------------------------------------------------------------------------
def list_images(folder, recursive=False):
    """Sorted image paths (full paths) under ``folder``, hidden files skipped."""
    paths = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        paths.extend(osp.join(root, f) for f in files if not f.startswith('.') and f.lower().endswith(IMG_EXTENSIONS))
        if not recursive:
            break
    return sorted(paths)


def quantize_8bit(img):
    """Clip to [0, 1] and round to the 256 levels an 8-bit image file would hold."""
    return (np.clip(img, 0, 1) * 255.0).round().astype(np.float32) / 255.0


def matlab_downscale(img, scale):
    """MATLAB-style antialiased bicubic downscaling by an integer factor (not rounded)."""
    return imresize(img, 1.0 / scale)


def matlab_upscale(img, scale):
    """MATLAB-style bicubic upscaling by an integer factor (not rounded)."""
    return imresize(img, float(scale))


def down_up(img, scale, quantize_lr=False):
    """GCFSR input from an HR image: bicubic down by ``scale``, back up to the HR size, 8-bit rounded.

    Args:
        img (ndarray): HWC float32 image in [0, 1].
        scale (int): Downscaling factor; must divide both sides.
        quantize_lr (bool): Round the small LR image to 8 bits too, as when it was stored as a file
            (validation sets). Default: False (training, as GCFSR does).

    Returns:
        ndarray: HWC float32 image of the input's size, on the 8-bit grid.
    """
    lr = matlab_downscale(img, scale)
    if quantize_lr:
        lr = quantize_8bit(lr)
    return quantize_8bit(matlab_upscale(lr, scale))


def resize_square(img, size, method='lanczos'):
    """Resize a square uint8 image (HWC, any channel order) to ``size`` × ``size``.

    ``lanczos`` and ``bicubic`` use Pillow, which widens the kernel when shrinking (antialiased);
    ``area`` is OpenCV's pixel-area averaging. An image already at ``size`` is returned unchanged.
    """
    h, w = img.shape[:2]
    if h != w:
        raise ValueError(f'expected a square face image, got {h}x{w}')
    if h == size:
        return img
    if method == 'area':
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if method not in RESIZE_FILTERS:
        raise ValueError(f'unknown resize filter {method!r}; choose from {RESIZE_FILTERS}')
    from PIL import Image
    resample = Image.Resampling.LANCZOS if method == 'lanczos' else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(img).resize((size, size), resample=resample))


# ----------------------------------------------------------------------------------------------------------
# option checks (errors name the option)
# ----------------------------------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_out_size(opt, cls):
    out_size = opt.get('out_size')
    if not _is_int(out_size) or out_size <= 0:
        raise ValueError(f'{cls}: option "out_size" must be a positive int, got {out_size!r}')
    return int(out_size)


def _check_scale(scale, out_size, cls, name):
    if not _is_int(scale) or scale < 1:
        raise ValueError(f'{cls}: option "{name}" needs positive ints, got {scale!r}')
    if out_size % scale != 0:
        raise ValueError(f'{cls}: option "{name}": factor {scale} does not divide out_size {out_size}')
    # imresize sizes its output with ceil(size * 1/scale): make sure float rounding gives the exact size
    if math.ceil(out_size * (1.0 / scale)) != out_size // scale:
        raise ValueError(f'{cls}: option "{name}": factor {scale} is not exactly representable for '
                         f'out_size {out_size}; use a power of two')
    return int(scale)


def _check_positive_number(opt, key, default, cls):
    value = opt.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f'{cls}: option "{key}" must be a positive number, got {value!r}')
    return float(value)


def _check_mean_std(opt, cls):
    out = []
    for key in ('mean', 'std'):
        value = opt.get(key, [0.5, 0.5, 0.5])
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ValueError(f'{cls}: option "{key}" must be a list of 3 numbers, got {value!r}')
        if key == 'std' and any(v == 0 for v in value):
            raise ValueError(f'{cls}: option "std" must not contain 0, got {value!r}')
        out.append([float(v) for v in value])
    return out


def _check_bool(opt, key, default, cls):
    value = opt.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f'{cls}: option "{key}" must be true or false, got {value!r}')
    return value


def _check_dir(opt, key, cls, required=True):
    folder = opt.get(key)
    if folder is None and not required:
        return None
    if not isinstance(folder, str) or not osp.isdir(folder):
        raise ValueError(f'{cls}: option "{key}" must be an existing folder, got {folder!r}')
    return folder


def _check_size(img, out_size, path, cls):
    h, w = img.shape[:2]
    if (h, w) != (out_size, out_size):
        raise ValueError(f'{cls}: image {path} is {h}x{w}, but option "out_size" is {out_size}: '
                         f'images must already be {out_size}x{out_size} (resize them with '
                         f'datasets/prepare_ffhq_lmdb.py or datasets/make_gcfsr_val.py --size {out_size})')


def _to_tensor(img, mean, std):
    tensor = img2tensor(img, bgr2rgb=True, float32=True)
    normalize(tensor, mean, std, inplace=True)
    return tensor


def _in_size(scale, cond_norm):
    return torch.tensor([scale / cond_norm], dtype=torch.float32)


# ----------------------------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------------------------
@DATASET_REGISTRY.register()
class GCFSRTrainDataset(data.Dataset):
    """FFHQ-style training set for GCFSR: random factor per sample, degradation made on the fly.

    Per sample: pick a factor ``s`` uniformly from ``scales``; optionally flip the HR image horizontally;
    make the input by MATLAB-style bicubic downscaling by ``s``, bicubic upscaling back to ``out_size`` and
    rounding to 8 bits; normalise both images with ``mean``/``std``.

    Args:
        opt (dict): Dataset options:

            - dataroot_gt (str): Folder of HR face images (searched recursively, sorted), or an LMDB folder
              ending in ``.lmdb`` with BasicSR's ``meta_info.txt`` (keys = file names without extension,
              as written by ``basicsr.utils.lmdb_util.make_lmdb_from_imgs``). Required.
            - io_backend (dict): ``{type: disk}`` or ``{type: lmdb}``; other keys go to BasicSR's
              ``FileClient``. Default: ``{type: disk}``.
            - out_size (int): Side of the square HR images; every image must already have this size.
              Required.
            - scales (list[int]): Downscaling factors, one drawn uniformly per sample (repeat a factor to
              weight it). Each must divide ``out_size``. Default: ``[32, 32, 32, 32, 16, 16, 8, 8, 4]``.
            - cond_norm (float): ``in_size = s / cond_norm`` (32 for 512 models, 64 for 1024). Default: 32.
            - use_hflip (bool): Random horizontal flip with probability 0.5. Default: true.
            - mean (list[float]): Per-channel mean subtracted (RGB). Default: ``[0.5, 0.5, 0.5]``.
            - std (list[float]): Per-channel std divided by (RGB). Default: ``[0.5, 0.5, 0.5]``; with the
              default mean the images lie in [-1, 1].

    Returns (``__getitem__``):
        dict: ``lq`` (3, out_size, out_size) float32 RGB, the degraded input at full size; ``gt`` (same
        shape) the target; ``in_size`` float32 tensor of shape (1,); ``gt_path`` (file path, or LMDB key).
    """

    def __init__(self, opt):
        super().__init__()
        cls = type(self).__name__
        self.opt = opt
        self.out_size = _check_out_size(opt, cls)
        scales = opt.get('scales', list(DEFAULT_SCALES))
        if not isinstance(scales, (list, tuple)) or len(scales) == 0:
            raise ValueError(f'{cls}: option "scales" must be a non-empty list of ints, got {scales!r}')
        self.scales = [_check_scale(s, self.out_size, cls, 'scales') for s in scales]
        self.cond_norm = _check_positive_number(opt, 'cond_norm', 32, cls)
        self.use_hflip = _check_bool(opt, 'use_hflip', True, cls)
        self.mean, self.std = _check_mean_std(opt, cls)

        io_opt = opt.get('io_backend') or {'type': 'disk'}
        if not isinstance(io_opt, dict) or io_opt.get('type') not in ('disk', 'lmdb'):
            raise ValueError(f'{cls}: option "io_backend" must be {{type: disk}} or {{type: lmdb}}, got {io_opt!r}')
        self.io_backend_opt = dict(io_opt)  # a copy: FileClient is built lazily per worker from it
        self.backend = self.io_backend_opt.pop('type')
        self.file_client = None

        gt_root = opt.get('dataroot_gt')
        if not isinstance(gt_root, str) or not osp.isdir(gt_root):
            raise ValueError(f'{cls}: option "dataroot_gt" must be an existing folder, got {gt_root!r}')
        self.gt_root = gt_root
        if self.backend == 'lmdb':
            if not gt_root.rstrip('/').endswith('.lmdb'):
                raise ValueError(f'{cls}: with io_backend lmdb, option "dataroot_gt" must end with .lmdb, '
                                 f'got {gt_root!r}')
            meta = osp.join(gt_root, 'meta_info.txt')
            if not osp.isfile(meta):
                raise ValueError(f'{cls}: option "dataroot_gt": {meta} not found (BasicSR LMDBs carry one)')
            with open(meta) as fin:
                # "<name.ext> (h,w,c) <compression>": the key is the name without extension
                self.paths = [osp.splitext(line.split()[0])[0] for line in fin if line.strip()]
            self.io_backend_opt['db_paths'] = [gt_root]
            self.io_backend_opt['client_keys'] = ['gt']
        else:
            self.paths = list_images(gt_root, recursive=True)
        if not self.paths:
            raise ValueError(f'{cls}: option "dataroot_gt": no images found in {gt_root}')

    def __len__(self):
        return len(self.paths)

    def _read(self, path):
        if self.file_client is None:  # opened here so that each dataloader worker gets its own LMDB env
            self.file_client = FileClient(self.backend, **self.io_backend_opt)
        img_bytes = self.file_client.get(path, 'gt')
        img = imfrombytes(img_bytes, float32=True)
        _check_size(img, self.out_size, path, type(self).__name__)
        return img

    def __getitem__(self, index):
        gt_path = self.paths[index]
        img_gt = self._read(gt_path)
        scale = random.choice(self.scales)
        if self.use_hflip and random.random() < 0.5:
            img_gt = np.ascontiguousarray(img_gt[:, ::-1])  # before degrading, so lq and gt stay aligned
        img_lq = down_up(img_gt, scale)
        return {
            'lq': _to_tensor(img_lq, self.mean, self.std),
            'gt': _to_tensor(img_gt, self.mean, self.std),
            'in_size': _in_size(scale, self.cond_norm),
            'gt_path': gt_path,
        }


@DATASET_REGISTRY.register()
class GCFSRValDataset(data.Dataset):
    """Validation/test set for GCFSR at one fixed factor, with ground truth for metrics.

    The LR image (``out_size / scale`` wide) is either read from ``dataroot_lq`` (matched to the GT by
    file name without extension, e.g. as written by ``datasets/make_gcfsr_val.py``) or made from the GT
    by MATLAB-style bicubic downscaling and 8-bit rounding, exactly as that script stores it. It is then
    bicubic-upscaled to ``out_size`` and rounded to 8 bits: the generator's input. Order is sorted by GT
    file name and nothing is random.

    Note: BasicSR copies a top-level ``scale`` key of the experiment options into every dataset's options,
    overriding this dataset's ``scale``; leave the top-level ``scale`` out (or equal to this one).

    Args:
        opt (dict): Dataset options:

            - dataroot_gt (str): Folder of HR images, all ``out_size`` × ``out_size``. Required.
            - dataroot_lq (str | None): Folder of LR images at ``out_size / scale``. Default: None (made from
              the GT).
            - io_backend (dict): Only ``{type: disk}`` is supported. Default: ``{type: disk}``.
            - out_size (int): Side of the square HR images. Required.
            - scale (int): Downscaling factor; must divide ``out_size``. Required.
            - cond_norm (float): ``in_size = scale / cond_norm``. Default: 32.
            - mean (list[float]): Per-channel mean (RGB). Default: ``[0.5, 0.5, 0.5]``.
            - std (list[float]): Per-channel std (RGB). Default: ``[0.5, 0.5, 0.5]`` (values in [-1, 1]).

    Returns (``__getitem__``):
        dict: ``lq`` (3, out_size, out_size) float32 RGB, the upscaled LR input; ``gt`` (same shape);
        ``in_size`` float32 tensor of shape (1,); ``lq_path`` (the LR file, or the GT file when the LR is
        made from it); ``gt_path``.
    """

    def __init__(self, opt):
        super().__init__()
        cls = type(self).__name__
        self.opt = opt
        self.out_size = _check_out_size(opt, cls)
        self.scale = _check_scale(opt.get('scale'), self.out_size, cls, 'scale')
        self.cond_norm = _check_positive_number(opt, 'cond_norm', 32, cls)
        self.mean, self.std = _check_mean_std(opt, cls)
        io_opt = opt.get('io_backend') or {'type': 'disk'}
        if not isinstance(io_opt, dict) or io_opt.get('type') != 'disk':
            raise ValueError(f'{cls}: option "io_backend" must be {{type: disk}}, got {io_opt!r}')

        gt_root = _check_dir(opt, 'dataroot_gt', cls)
        self.gt_paths = list_images(gt_root)
        if not self.gt_paths:
            raise ValueError(f'{cls}: option "dataroot_gt": no images found in {gt_root}')
        lq_root = _check_dir(opt, 'dataroot_lq', cls, required=False)
        if lq_root is None:
            self.lq_paths = None
        else:
            by_stem = {osp.splitext(osp.basename(p))[0]: p for p in list_images(lq_root)}
            missing = [p for p in self.gt_paths if osp.splitext(osp.basename(p))[0] not in by_stem]
            if missing:
                raise ValueError(f'{cls}: option "dataroot_lq": no LR image named like {missing[0]} in {lq_root} '
                                 f'({len(missing)} of {len(self.gt_paths)} missing)')
            self.lq_paths = [by_stem[osp.splitext(osp.basename(p))[0]] for p in self.gt_paths]

    def __len__(self):
        return len(self.gt_paths)

    def __getitem__(self, index):
        cls = type(self).__name__
        gt_path = self.gt_paths[index]
        img_gt = _read_disk(gt_path)
        _check_size(img_gt, self.out_size, gt_path, cls)
        if self.lq_paths is None:
            lq_path = gt_path
            img_lr = quantize_8bit(matlab_downscale(img_gt, self.scale))
        else:
            lq_path = self.lq_paths[index]
            img_lr = _read_disk(lq_path)
            lr_size = self.out_size // self.scale
            if img_lr.shape[:2] != (lr_size, lr_size):
                h, w = img_lr.shape[:2]
                raise ValueError(f'{cls}: LR image {lq_path} is {h}x{w}, but options "out_size" {self.out_size} '
                                 f'and "scale" {self.scale} need {lr_size}x{lr_size}')
        img_lq = quantize_8bit(matlab_upscale(img_lr, self.scale))
        return {
            'lq': _to_tensor(img_lq, self.mean, self.std),
            'gt': _to_tensor(img_gt, self.mean, self.std),
            'in_size': _in_size(self.scale, self.cond_norm),
            'lq_path': lq_path,
            'gt_path': gt_path,
        }


def _read_disk(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f'cannot read image {path}')
    return img.astype(np.float32) / 255.0
