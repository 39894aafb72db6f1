"""Evaluation inputs every method shares: image files in and out, paired LR/GT folders, the bicubic row.

Family-specific inputs (a degradation applied once, one set per factor) are made by each family's
``evaluation_sets`` from these pieces.
"""
import os

import cv2
import numpy as np
import torch

from basicsr.utils import img2tensor
from basicsr.utils.matlab_functions import imresize

from sdakd_basicsr.data.gcfsr_dataset import list_images


def read_rgb(path):
    """(1, 3, H, W) float RGB tensor in [0, 1] from an image file."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return img2tensor(img.astype(np.float32) / 255., bgr2rgb=True, float32=True).unsqueeze(0)


def write_rgb(path, tensor):
    """Save a (1, 3, H, W) RGB tensor in [0, 1] as an 8-bit PNG (BGR on disk, as cv2 and BasicSR expect)."""
    img = (tensor[0].clamp(0, 1).permute(1, 2, 0).numpy()[..., ::-1] * 255.).round().astype(np.uint8)
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write {path}')


def first_val_dataset(opt):
    """Options of the option file's first validation set with ``dataroot_gt`` (``datasets.val*``)."""
    for phase, dataset_opt in opt.get('datasets', {}).items():
        if phase.split('_')[0] == 'val' and dataset_opt.get('dataroot_gt'):
            return dataset_opt
    raise ValueError('the option file has no validation set with dataroot_gt; pass --gt (and --lq)')


def bicubic_upscale(lq, scale):
    """MATLAB-style bicubic upscaling (the 'Bicubic' row of SR tables) of a (1, 3, h, w) tensor in [0, 1]."""
    img = imresize(lq[0].permute(1, 2, 0).numpy(), float(scale))
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).unsqueeze(0).clamp(0, 1)


def paired_samples(gt_dir, lq_dir, scale):
    """Samples of a paired LR/GT folder (matched by file name without extension), sorted by name.

    Yields dicts: ``name``, ``inputs`` ({'lq': tensor}), ``gt`` (unit range), ``bicubic`` (unit range).
    """
    by_stem = {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(lq_dir)}
    gt_paths = list_images(gt_dir)
    if not gt_paths:
        raise ValueError(f'no images in the GT folder {gt_dir}')
    for gt_path in gt_paths:
        stem = os.path.splitext(os.path.basename(gt_path))[0]
        if stem not in by_stem:
            raise ValueError(f'no LR image named {stem}.* in {lq_dir} for {gt_path}')
        lq = read_rgb(by_stem[stem])
        gt = read_rgb(gt_path)
        if tuple(gt.shape[-2:]) != (lq.shape[-2] * scale, lq.shape[-1] * scale):
            raise ValueError(f'{gt_path} is {tuple(gt.shape[-2:])} but {by_stem[stem]} x{scale} is '
                             f'{(lq.shape[-2] * scale, lq.shape[-1] * scale)}')
        yield {'name': stem, 'inputs': {'lq': lq}, 'gt': gt, 'bicubic': bicubic_upscale(lq, scale)}
