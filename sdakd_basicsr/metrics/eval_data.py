"""Evaluation inputs every method shares: Real-ESRGAN x4 validation degraded once, GCFSR per factor.

Real-ESRGAN: the GT images are degraded once with the option file's own second-order degradation (basicsr's
kernels and ``RealESRGANModel.feed_data``, through :class:`RealESRGANPairSynthesizer`) from a fixed seed, and the
(GT crop, LQ) pairs are saved. The folder name carries a hash of the settings, so a changed degradation or GT set
never reuses stale inputs, and every method evaluated later reads the identical files.

GCFSR: one :class:`GCFSRValDataset` per factor (x8, x16, x32, x64 where the LR side keeps at least
:data:`GCFSR_MIN_LR_SIDE` pixels); the inputs are deterministic bicubic down-up images.
"""
import hashlib
import json
import os
import random
import tempfile
from copy import deepcopy

import cv2
import numpy as np
import torch

from basicsr.utils import img2tensor
from basicsr.utils.matlab_functions import imresize

from sdakd_basicsr.data.gcfsr_dataset import GCFSRValDataset, list_images

GCFSR_FACTORS = (8, 16, 32, 64)
GCFSR_MIN_LR_SIDE = 8

#: options of the Real-ESRGAN degradation, read from the option file (top level and datasets.train)
_TOP_LEVEL_KEYS = ('resize_prob', 'resize_range', 'gaussian_noise_prob', 'noise_range', 'poisson_scale_range',
                   'gray_noise_prob', 'jpeg_range', 'second_blur_prob', 'resize_prob2', 'resize_range2',
                   'gaussian_noise_prob2', 'noise_range2', 'poisson_scale_range2', 'gray_noise_prob2', 'jpeg_range2')
_KERNEL_KEYS = ('blur_kernel_size', 'kernel_list', 'kernel_prob', 'sinc_prob', 'blur_sigma', 'betag_range',
                'betap_range', 'blur_kernel_size2', 'kernel_list2', 'kernel_prob2', 'sinc_prob2', 'blur_sigma2',
                'betag_range2', 'betap_range2', 'final_sinc_prob')


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


def realesrgan_degradation_options(opt):
    """The degradation settings of a Real-ESRGAN option file, or a ValueError naming what is missing."""
    train_opt = opt.get('datasets', {}).get('train', {})
    missing = [k for k in _TOP_LEVEL_KEYS if k not in opt]
    missing += [f'datasets.train.{k}' for k in _KERNEL_KEYS if k not in train_opt]
    if missing or 'scale' not in opt:
        raise ValueError(f'the option file lacks the Real-ESRGAN degradation settings {missing or ["scale"]}; '
                         'evaluate with given LR images instead (--lq FOLDER)')
    return {'scale': opt['scale'], **{k: opt[k] for k in _TOP_LEVEL_KEYS},
            'kernels': {k: train_opt[k] for k in _KERNEL_KEYS}}


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def degrade_realesrgan_once(opt, gt_dir, cache_root, seed=0, name=None):
    """Degrade every GT image of ``gt_dir`` once and save the pairs; reuse them when already saved.

    Each image gets its own seed (``seed * 100003 + index``) for the kernels and the degradation; the GT is
    cropped to the largest square whose side is a multiple of the scale (basicsr crops the pair to ``gt_size``).

    Args:
        opt (dict): The experiment options (degradation settings at the top level and in ``datasets.train``).
        gt_dir (str): Folder of GT images.
        cache_root (str): Folder under which ``<name>_realesrgan_seed<seed>_<hash>/{gt,lq}`` is written.
        seed (int): Degradation seed.
        name (str | None): Data set name in the folder name. Default: the GT folder's name.

    Returns:
        tuple[str, str]: The saved GT and LQ folders.
    """
    from basicsr.data.realesrgan_dataset import RealESRGANDataset

    from sdakd_basicsr.data.realesrgan_synthesis import RealESRGANPairSynthesizer
    settings = realesrgan_degradation_options(opt)
    gt_paths = list_images(gt_dir)
    if not gt_paths:
        raise ValueError(f'no images in the GT folder {gt_dir}')
    listing = [(os.path.basename(p), os.path.getsize(p)) for p in gt_paths]
    key = hashlib.sha1(json.dumps([settings, listing, seed], sort_keys=True).encode()).hexdigest()[:10]
    name = name or os.path.basename(os.path.normpath(gt_dir))
    out = os.path.join(cache_root, f'{name}_realesrgan_seed{seed}_{key}')
    out_gt, out_lq = os.path.join(out, 'gt'), os.path.join(out, 'lq')
    manifest = os.path.join(out, 'manifest.json')
    if os.path.isfile(manifest):
        return out_gt, out_lq
    os.makedirs(out_gt, exist_ok=True)
    os.makedirs(out_lq, exist_ok=True)
    scale = settings['scale']
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as meta:
        meta.write(''.join(os.path.basename(p) + '\n' for p in gt_paths))
    try:
        # the dataset only samples the blur/sinc kernels here; its own 400 px crop of the GT is not used
        kernel_source = RealESRGANDataset(dict(settings['kernels'], dataroot_gt=gt_dir, meta_info=meta.name,
                                               io_backend={'type': 'disk'}, use_hflip=False, use_rot=False))
        for index, path in enumerate(gt_paths):
            _seed_everything(seed * 100003 + index)
            sample = kernel_source[index]
            gt = read_rgb(path)
            side = min(gt.shape[-2:]) // scale * scale
            synth_opt = dict(deepcopy({k: v for k, v in settings.items() if k != 'kernels'}), gt_size=side,
                             queue_size=1)
            synthesizer = RealESRGANPairSynthesizer(synth_opt, torch.device('cpu'))
            batch = {'gt': gt, 'kernel1': sample['kernel1'][None], 'kernel2': sample['kernel2'][None],
                     'sinc_kernel': sample['sinc_kernel'][None]}
            lq, gt_crop, _ = synthesizer(batch)
            stem = os.path.splitext(os.path.basename(path))[0]
            write_rgb(os.path.join(out_gt, f'{stem}.png'), gt_crop)
            write_rgb(os.path.join(out_lq, f'{stem}.png'), lq)
    finally:
        os.remove(meta.name)
    with open(manifest, 'w') as handle:
        json.dump({'gt_dir': os.path.abspath(gt_dir), 'seed': seed, 'settings': settings, 'images': listing},
                  handle, indent=2)
    return out_gt, out_lq


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


def gcfsr_factors(out_size, factors=GCFSR_FACTORS):
    """The factors whose LR image keeps at least :data:`GCFSR_MIN_LR_SIDE` px at ``out_size``."""
    return [f for f in factors if out_size % f == 0 and out_size // f >= GCFSR_MIN_LR_SIDE]


def gcfsr_dataset_options(opt, factor):
    """GCFSRValDataset options for ``factor``: the file's ``val_x<factor>`` set, else its first GCFSR
    validation set at that factor with the LR made from the GT."""
    datasets = {k: v for k, v in opt.get('datasets', {}).items() if k.split('_')[0] == 'val'
                and v.get('type') == 'GCFSRValDataset'}
    if not datasets:
        raise ValueError('the option file has no GCFSRValDataset validation set (datasets.val_x8, ...)')
    for dataset_opt in datasets.values():
        if dataset_opt.get('scale') == factor:
            return dict(dataset_opt, phase='val')
    first = dict(next(iter(datasets.values())), scale=factor, phase='val')
    first.pop('dataroot_lq', None)
    first['name'] = f'{first.get("name", "val")}_made_x{factor}'
    return first


def gcfsr_samples(dataset_opt, family):
    """Samples of one GCFSR factor: inputs {'lq', 'in_size'} in [-1, 1], GT and bicubic (= the input)."""
    dataset = GCFSRValDataset(dataset_opt)
    for index in range(len(dataset)):
        item = dataset[index]
        inputs = {'lq': item['lq'][None], 'in_size': item['in_size'][None]}
        yield {'name': os.path.splitext(os.path.basename(item['gt_path']))[0], 'inputs': inputs,
               'gt': family.to_unit_range(item['gt'][None]).clamp(0, 1),
               'bicubic': family.to_unit_range(item['lq'][None]).clamp(0, 1)}
