"""Prepare a folder of HR images for training: ``python -m sdakd_basicsr.prepare_data``.

Multiscale copies, 400 px sub-images, their ``meta_info.txt`` and optionally an LMDB, as Real-ESRGAN prepares
DF2K (:mod:`sdakd_basicsr.data.preparation`). The output folder is what ``python -m sdakd_basicsr.new_experiment
--data`` expects.

Examples:
    python -m sdakd_basicsr.prepare_data --hr my_photos/train --out datasets/my_photos
    python -m sdakd_basicsr.prepare_data --hr my_photos/train --out datasets/my_photos --lmdb --no-multiscale
"""
import argparse
import sys

from sdakd_basicsr.data import preparation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hr', required=True, help='folder of HR training images (any depth)')
    parser.add_argument('--out', required=True, help='output folder (multiscale/, sub/, meta_info.txt, sub.lmdb)')
    parser.add_argument('--no-multiscale', dest='multiscale', action='store_false',
                        help='cut the sub-images from the originals only')
    parser.add_argument('--crop', type=int, default=preparation.CROP_SIZE, help='sub-image size (px)')
    parser.add_argument('--step', type=int, default=preparation.CROP_STEP, help='sub-image stride (px)')
    parser.add_argument('--lmdb', action='store_true', help='also write the sub-images into <out>/sub.lmdb')
    args = parser.parse_args(argv)
    result = preparation.prepare_folder(args.hr, args.out, args.multiscale, args.crop, args.step, args.lmdb)
    print(f'{result["count"]} training sub-images; datasets.train: dataroot_gt: {result["dataroot_gt"]}, '
          f'meta_info: {result["meta_info"]}, io_backend: {result["io_backend"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
