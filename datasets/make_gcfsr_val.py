"""Make a GCFSR validation/test set: HR faces at --size and their LR versions at --size / s.

    python datasets/make_gcfsr_val.py --input datasets/CelebA-HQ/CelebA-HQ-img --size 512 --num 1000
        -> datasets/CelebA-HQ/val_512/gt/<name>.png
           datasets/CelebA-HQ/val_512/lq_x8/<name>.png, lq_x16/..., lq_x32/...

The first --num images of --input (sorted by name, not recursive) are resized to --size (square images
only) and saved as PNG; each LR image is the saved HR image MATLAB-bicubic downscaled by s and rounded to
8 bits. Point GCFSRValDataset's dataroot_gt at gt/ and dataroot_lq at lq_x<s>/ with scale s. Running it
again rewrites the same files.
"""
import argparse
import math
import os
import sys
from os import path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, help='folder of face images (e.g. CelebA-HQ)')
    parser.add_argument('--output', default=None, help='output folder (default: datasets/CelebA-HQ/val_<size>)')
    parser.add_argument('--size', type=int, default=512, help='HR side in pixels (default: 512)')
    parser.add_argument('--scales', type=int, nargs='+', default=[8, 16, 32],
                        help='downscaling factors (default: 8 16 32; add 64 for 1024 models)')
    parser.add_argument('--num', type=int, default=None, help='only the first N images by name (default: all)')
    parser.add_argument('--filter', default='lanczos', choices=('lanczos', 'bicubic', 'area'),
                        help='filter resizing the HR images to --size (default: lanczos, antialiased)')
    args = parser.parse_args(argv)
    if args.size <= 0:
        parser.error('--size must be positive')
    for s in args.scales:
        # the second test: MATLAB imresize sizes its output with ceil(size * (1 / s))
        if s < 1 or args.size % s != 0 or math.ceil(args.size * (1.0 / s)) != args.size // s:
            parser.error(f'--scales: {s} does not divide --size {args.size} exactly')
    if args.num is not None and args.num <= 0:
        parser.error('--num must be positive')
    args.output = args.output or osp.join('datasets', 'CelebA-HQ', f'val_{args.size}')
    return args


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import numpy as np
    from sdakd_basicsr.data.gcfsr_dataset import list_images, matlab_downscale, resize_square

    paths = list_images(args.input)
    if args.num is not None:
        paths = paths[:args.num]
    if not paths:
        sys.exit(f'no images found in {args.input}')
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    if len(set(stems)) != len(stems):
        sys.exit(f'file names (without extension) in {args.input} are not unique')

    gt_dir = osp.join(args.output, 'gt')
    lq_dirs = {s: osp.join(args.output, f'lq_x{s}') for s in args.scales}
    for folder in [gt_dir, *lq_dirs.values()]:
        os.makedirs(folder, exist_ok=True)
    print(f'{len(paths)} images from {args.input} -> {args.output} (size {args.size}, scales {args.scales})',
          flush=True)

    step = max(1, len(paths) // 20)
    for i, (path, stem) in enumerate(zip(paths, stems), 1):
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f'cannot read image {path}')
        try:
            gt = resize_square(img, args.size, args.filter)
        except ValueError as err:
            sys.exit(f'{path}: {err}')
        cv2.imwrite(osp.join(gt_dir, f'{stem}.png'), gt)
        gt01 = gt.astype(np.float32) / 255.0  # the LR comes from the 8-bit HR that is saved
        for s, folder in lq_dirs.items():
            lr = (np.clip(matlab_downscale(gt01, s), 0, 1) * 255.0).round().astype(np.uint8)
            cv2.imwrite(osp.join(folder, f'{stem}.png'), lr)
        if i % step == 0 or i == len(paths):
            print(f'made {i}/{len(paths)}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
