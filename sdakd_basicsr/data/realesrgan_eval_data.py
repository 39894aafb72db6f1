"""Real-ESRGAN x4 validation inputs degraded once, so that every method evaluated later reads the same files.

The GT images are degraded with the option file's own second-order degradation (basicsr's kernels and
``RealESRGANModel.feed_data``, through :class:`RealESRGANPairSynthesizer`) from a fixed seed, and the (GT crop, LQ)
pairs are saved. The folder name carries a hash of the settings, so a changed degradation or GT set never reuses
stale inputs.
"""
import hashlib
import json
import os
import random
import tempfile
from copy import deepcopy

import numpy as np
import torch

from sdakd_basicsr.data.gcfsr_dataset import list_images
from sdakd_basicsr.metrics.eval_data import read_rgb, write_rgb

#: options of the Real-ESRGAN degradation, read from the option file (top level and datasets.train)
_TOP_LEVEL_KEYS = ('resize_prob', 'resize_range', 'gaussian_noise_prob', 'noise_range', 'poisson_scale_range',
                   'gray_noise_prob', 'jpeg_range', 'second_blur_prob', 'resize_prob2', 'resize_range2',
                   'gaussian_noise_prob2', 'noise_range2', 'poisson_scale_range2', 'gray_noise_prob2', 'jpeg_range2')
_KERNEL_KEYS = ('blur_kernel_size', 'kernel_list', 'kernel_prob', 'sinc_prob', 'blur_sigma', 'betag_range',
                'betap_range', 'blur_kernel_size2', 'kernel_list2', 'kernel_prob2', 'sinc_prob2', 'blur_sigma2',
                'betag_range2', 'betap_range2', 'final_sinc_prob')


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
