"""Turn a folder of HR images into what the Real-ESRGAN option files read, in the steps Real-ESRGAN uses for DF2K.

1. :func:`make_multiscale`: each image at several scales (the original, ×0.75, ×0.5, ×1/3) and once with its
   shorter side at 400 px, so the model sees textures at several sizes;
2. :func:`extract_subimages`: overlapping 400 px crops (``RealESRGANDataset`` pads or crops every GT image to
   400×400, so larger files only cost reading time);
3. :func:`write_meta_info`: the list of crops the dataset reads (``datasets.train.meta_info``);
4. :func:`make_lmdb` (optional): the crops in one LMDB (BasicSR's own writer) for slow or network file systems.

:func:`prepare_folder` runs them in order and returns the paths to put into an option file.
"""
import os

import cv2
import numpy as np
from tqdm import tqdm

from basicsr.utils import scandir

#: scales of the multiscale copies (1 = the original), as Real-ESRGAN's DF2K preparation
MULTISCALE_FACTORS = (1.0, 0.75, 0.5, 1 / 3)
#: the extra copy's shorter side
SHORTEST_EDGE = 400
#: sub-image size and stride: RealESRGANDataset's fixed 400 px GT crop
CROP_SIZE, CROP_STEP = 400, 200
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.PNG', '.JPG', '.JPEG')


def list_images(folder):
    """Image files under ``folder`` (recursively), sorted, as paths relative to it."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'the image folder {folder!r} does not exist')
    found = sorted(scandir(folder, suffix=IMAGE_SUFFIXES, recursive=True))
    if not found:
        raise ValueError(f'no images ({", ".join(IMAGE_SUFFIXES[:7])}) in {folder!r}')
    return found


def _read(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f'cannot read image {path}')
    return img


def _write(path, img, compress_level=3):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level]):
        raise OSError(f'could not write {path}')


def _stem(relative):
    return os.path.splitext(relative)[0].replace(os.sep, '_')


def make_multiscale(hr_dir, out_dir, factors=MULTISCALE_FACTORS, shortest_edge=SHORTEST_EDGE):
    """Write ``<stem>T<i>.png`` for each factor (Lanczos) and ``<stem>T<n>.png`` with the shorter side at
    ``shortest_edge`` (skipped when ``shortest_edge`` is 0 or the image is already smaller).

    Returns:
        int: The number of images written.
    """
    written = 0
    for relative in tqdm(list_images(hr_dir), desc='multiscale', unit='img'):
        img = _read(os.path.join(hr_dir, relative))
        height, width = img.shape[:2]
        sizes = [(max(1, round(width * f)), max(1, round(height * f))) for f in factors]
        if shortest_edge and min(height, width) > shortest_edge:
            ratio = shortest_edge / min(height, width)
            sizes.append((max(shortest_edge, round(width * ratio)), max(shortest_edge, round(height * ratio))))
        for index, size in enumerate(sizes):
            out = img if size == (width, height) else cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4)
            _write(os.path.join(out_dir, f'{_stem(relative)}T{index}.png'), out)
            written += 1
    return written


def _starts(length, crop, step):
    if length <= crop:
        return [0]
    starts = list(range(0, length - crop + 1, step))
    if starts[-1] != length - crop:
        starts.append(length - crop)  # the last crop ends at the border, so no strip is left out
    return starts


def extract_subimages(in_dir, out_dir, crop=CROP_SIZE, step=CROP_STEP):
    """Cut every image into ``crop``-px squares every ``step`` px: ``<stem>_s<NNN>.png``. Images smaller
    than ``crop`` are copied whole (the dataset pads them).

    Returns:
        int: The number of sub-images written.
    """
    if not 0 < step <= crop:
        raise ValueError(f'--step {step} must be in (0, --crop {crop}]')
    written = 0
    for relative in tqdm(list_images(in_dir), desc='sub-images', unit='img'):
        img = _read(os.path.join(in_dir, relative))
        height, width = img.shape[:2]
        index = 0
        for top in _starts(height, crop, step):
            for left in _starts(width, crop, step):
                index += 1
                tile = np.ascontiguousarray(img[top:top + crop, left:left + crop])
                _write(os.path.join(out_dir, f'{_stem(relative)}_s{index:03d}.png'), tile)
        written += index
    return written


def write_meta_info(gt_dir, meta_path):
    """The list of images under ``gt_dir``, one path relative to it per line (``datasets.train.meta_info``).

    Returns:
        int: The number of lines.
    """
    names = list_images(gt_dir)
    os.makedirs(os.path.dirname(os.path.abspath(meta_path)), exist_ok=True)
    with open(meta_path, 'w') as handle:
        handle.write(''.join(name.replace(os.sep, '/') + '\n' for name in names))
    return len(names)


def make_lmdb(gt_dir, lmdb_path, n_thread=4):
    """The images under ``gt_dir`` in one LMDB, keyed by their path without extension (what
    ``RealESRGANDataset`` looks up with ``io_backend: {type: lmdb}``), through BasicSR's own writer."""
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    if not lmdb_path.endswith('.lmdb'):
        raise ValueError(f'the LMDB folder must end with .lmdb (BasicSR checks it), got {lmdb_path!r}')
    names = list_images(gt_dir)
    keys = [os.path.splitext(name)[0].replace(os.sep, '/') for name in names]
    make_lmdb_from_imgs(gt_dir, lmdb_path, names, keys, n_thread=n_thread, multiprocessing_read=n_thread > 1)
    return len(names)


def prepare_folder(hr_dir, out_dir, multiscale=True, crop=CROP_SIZE, step=CROP_STEP, lmdb=False):
    """All steps for one folder of HR images into ``out_dir``.

    Args:
        hr_dir (str): Folder of HR images (any depth).
        out_dir (str): Output folder: ``multiscale/``, ``sub/``, ``meta_info.txt`` and with ``lmdb`` ``sub.lmdb``.
        multiscale (bool): Make the multiscale copies first (else the crops are cut from the originals).
        crop (int), step (int): Sub-image size and stride.
        lmdb (bool): Also write the crops into ``sub.lmdb``.

    Returns:
        dict: Options for ``datasets.train``: ``dataroot_gt``, ``meta_info`` and ``io_backend``, plus ``count``.
    """
    source = hr_dir
    if multiscale:
        source = os.path.join(out_dir, 'multiscale')
        make_multiscale(hr_dir, source)
    sub_dir = os.path.join(out_dir, 'sub')
    extract_subimages(source, sub_dir, crop, step)
    meta_info = os.path.join(out_dir, 'meta_info.txt')
    count = write_meta_info(sub_dir, meta_info)
    if not lmdb:
        return {'dataroot_gt': sub_dir, 'meta_info': meta_info, 'io_backend': {'type': 'disk'}, 'count': count}
    lmdb_path = os.path.join(out_dir, 'sub.lmdb')
    make_lmdb(sub_dir, lmdb_path)
    # with LMDB, RealESRGANDataset reads <dataroot_gt>/meta_info.txt (written by BasicSR) and ignores meta_info
    return {'dataroot_gt': lmdb_path, 'meta_info': None, 'io_backend': {'type': 'lmdb'}, 'count': count}
