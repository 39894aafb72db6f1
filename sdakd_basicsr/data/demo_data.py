"""Build the small demo data set from real photos bundled inside the scikit-image wheel (no download).

Layout written under ``--out`` (default: ``datasets/demo`` under the working directory)::

    train/gt/<photo>_y<top>_x<left>.png   HR tiles for RealESRGANDataset (dataroot_gt)
    train/meta_info.txt                   one tile file name per line, relative to train/gt
    val/gt/<photo>.png                    HR centre crops for PairedImageDataset (dataroot_gt)
    val/lq/<photo>.png                    the same crops bicubic-downscaled x4 (dataroot_lq)

Training and validation use different photos. The output is byte-identical from run to run.

Example (``python datasets/make_demo_data.py`` is the same command):
    python -m sdakd_basicsr.data.demo_data --out datasets/demo
"""
import argparse
import os

import cv2
import numpy as np

SCALE = 4

#: photos whose tiles train; motorcycle_left/right are one stereo scene, so both stay on this side
TRAIN_PHOTOS = ('astronaut', 'rocket', 'motorcycle_left', 'motorcycle_right')
#: held-out photos, one centre crop each
VAL_PHOTOS = ('chelsea', 'coffee')

DEFAULT_OUT = os.path.join('datasets', 'demo')
# RealESRGANDataset pads or crops every GT image to 400x400 (hard-coded), so 400 px tiles reach it unpadded.
DEFAULT_TILE_SIZE = 400
DEFAULT_TILE_STEP = 200
# 256 GT / 64 LR keeps CPU validation quick; see datasets/README.md for NIQE on larger crops.
DEFAULT_VAL_SIZE = 256
PNG_FLAGS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def load_photo(name):
    """Load one bundled colour photo as an RGB uint8 array (h, w, 3).

    Args:
        name (str): One of :data:`TRAIN_PHOTOS` or :data:`VAL_PHOTOS`.

    Returns:
        numpy.ndarray: The photo.
    """
    from skimage import data
    if name in ('motorcycle_left', 'motorcycle_right'):
        left, right, _ = data.stereo_motorcycle()
        image = left if name == 'motorcycle_left' else right
    else:
        image = getattr(data, name)()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'skimage.data.{name} is not an RGB uint8 photo')
    return image


def tile_starts(length, tile, step):
    """Start offsets of tiles of size ``tile`` every ``step`` pixels, the last one flush with the far edge."""
    if length < tile:
        raise ValueError(f'a side of {length} px is smaller than the {tile} px tile')
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def centre_crop(image, size):
    """Crop a ``size`` x ``size`` square from the middle of ``image``."""
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ValueError(f'a {h}x{w} photo is smaller than the {size} px validation crop')
    top, left = (h - size) // 2, (w - size) // 2
    return image[top:top + size, left:left + size]


def bicubic_downscale(image, scale=SCALE):
    """Downscale an RGB uint8 image by ``scale`` with MATLAB-style antialiased bicubic (the usual SR protocol).

    Args:
        image (numpy.ndarray): (h, w, 3) uint8 with h and w divisible by ``scale``.
        scale (int): Downscaling factor.

    Returns:
        numpy.ndarray: (h / scale, w / scale, 3) uint8.
    """
    import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr is imported)
    from basicsr.utils.matlab_functions import imresize
    small = imresize(image.astype(np.float32) / 255., 1. / scale)
    return np.clip(np.round(small * 255.), 0, 255).astype(np.uint8)


def _write_png(path, rgb):
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1]), PNG_FLAGS):  # BasicSR reads BGR via cv2
        raise OSError(f'could not write {path}')


def _prepare_folder(folder):
    """Create ``folder`` and drop the PNGs a previous run left there (only PNGs: nothing else is touched)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith('.png'):
            os.remove(os.path.join(folder, name))


def make_demo_data(out=DEFAULT_OUT, tile_size=DEFAULT_TILE_SIZE, tile_step=DEFAULT_TILE_STEP,
                   val_size=DEFAULT_VAL_SIZE):
    """Write the demo train/validation data.

    Args:
        out (str): Output folder.
        tile_size (int): Side of the square training tiles (multiple of 4).
        tile_step (int): Stride between training tiles.
        val_size (int): Side of the square validation GT crops (multiple of 4; at most 300, chelsea's height).

    Returns:
        dict: ``{'train': [tile file names], 'val': [validation file names]}``.
    """
    if tile_size % SCALE or val_size % SCALE:
        raise ValueError(f'tile_size and val_size must be divisible by {SCALE}')
    if tile_step <= 0:
        raise ValueError('tile_step must be positive')
    train_gt = os.path.join(out, 'train', 'gt')
    val_gt = os.path.join(out, 'val', 'gt')
    val_lq = os.path.join(out, 'val', 'lq')
    for folder in (train_gt, val_gt, val_lq):
        _prepare_folder(folder)

    train_names = []
    for photo in TRAIN_PHOTOS:
        image = load_photo(photo)
        h, w = image.shape[:2]
        for top in tile_starts(h, tile_size, tile_step):
            for left in tile_starts(w, tile_size, tile_step):
                name = f'{photo}_y{top:03d}_x{left:03d}.png'
                _write_png(os.path.join(train_gt, name), image[top:top + tile_size, left:left + tile_size])
                train_names.append(name)
    with open(os.path.join(out, 'train', 'meta_info.txt'), 'w', newline='\n') as handle:
        handle.writelines(f'{name}\n' for name in train_names)

    val_names = []
    for photo in VAL_PHOTOS:
        gt = centre_crop(load_photo(photo), val_size)
        name = f'{photo}.png'
        _write_png(os.path.join(val_gt, name), gt)
        _write_png(os.path.join(val_lq, name), bicubic_downscale(gt))
        val_names.append(name)
    return {'train': train_names, 'val': val_names}


def main(argv=None, default_out=DEFAULT_OUT):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=default_out, help='output folder (default: %(default)s)')
    parser.add_argument('--tile-size', type=int, default=DEFAULT_TILE_SIZE, help='training tile side in px')
    parser.add_argument('--tile-step', type=int, default=DEFAULT_TILE_STEP, help='stride between training tiles')
    parser.add_argument('--val-size', type=int, default=DEFAULT_VAL_SIZE,
                        help='validation GT crop side in px (LR is a quarter of it)')
    args = parser.parse_args(argv)
    written = make_demo_data(args.out, args.tile_size, args.tile_step, args.val_size)
    print(f'Wrote {len(written["train"])} training tiles ({args.tile_size} px) and {len(written["val"])} '
          f'validation pairs ({args.val_size} px GT / {args.val_size // SCALE} px LR) under {args.out}')
    return written


if __name__ == '__main__':
    main()
