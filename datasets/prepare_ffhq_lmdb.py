"""Prepare FFHQ for GCFSR training: resize the faces to --size and pack them into a BasicSR LMDB.

    python datasets/prepare_ffhq_lmdb.py --input datasets/FFHQ/images1024x1024 --size 512
        -> datasets/FFHQ/ffhq_512/00000.png ...  and  datasets/FFHQ/ffhq_512.lmdb

The input folder is searched recursively (the official images1024x1024 has sub-folders); images are
taken in order of file name and named by it without extension, which must be unique. The
LMDB follows BasicSR's conventions (``meta_info.txt`` inside, keys without extension), so it works with
``io_backend: {type: lmdb}`` of GCFSRTrainDataset and BasicSR's own FFHQ dataset.
"""
import argparse
import os
import sys
from multiprocessing import Pool
from os import path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, help='folder of FFHQ images (any size, square)')
    parser.add_argument('--size', type=int, default=512, help='output side in pixels (default: 512)')
    parser.add_argument('--resized-dir', default=None,
                        help='where the resized PNGs go (default: datasets/FFHQ/ffhq_<size>)')
    parser.add_argument('--lmdb', default=None, help='LMDB to write (default: datasets/FFHQ/ffhq_<size>.lmdb)')
    parser.add_argument('--no-lmdb', action='store_true', help='only write the resized folder')
    parser.add_argument('--skip-resize', action='store_true',
                        help='--input already holds images at --size: build the LMDB straight from it')
    parser.add_argument('--filter', default='lanczos', choices=('lanczos', 'bicubic', 'area'),
                        help='resize filter (default: lanczos, antialiased)')
    parser.add_argument('--num', type=int, default=None, help='only the first N images (default: all)')
    parser.add_argument('--workers', type=int, default=1, help='processes for resizing / reading (default: 1)')
    parser.add_argument('--compress-level', type=int, default=1, help='PNG compression inside the LMDB (default: 1)')
    args = parser.parse_args(argv)
    if args.size <= 0:
        parser.error('--size must be positive')
    if args.skip_resize and args.no_lmdb:
        parser.error('--skip-resize with --no-lmdb has nothing to do')
    args.resized_dir = args.resized_dir or osp.join('datasets', 'FFHQ', f'ffhq_{args.size}')
    args.lmdb = (args.lmdb or osp.join('datasets', 'FFHQ', f'ffhq_{args.size}.lmdb')).rstrip('/')
    if not args.no_lmdb:
        if not args.lmdb.endswith('.lmdb'):
            parser.error(f'--lmdb must end with .lmdb, got {args.lmdb}')
        if osp.exists(args.lmdb):
            parser.error(f'{args.lmdb} already exists; delete it or choose another --lmdb')
    return args


def _key_of(path):
    stem = osp.splitext(osp.basename(path))[0]
    # BasicSR recovers keys from meta_info.txt by splitting at the first '.' and the first space
    if not stem or '.' in stem or any(c.isspace() for c in stem) or not stem.isascii():
        raise ValueError(f'{path}: LMDB keys need ASCII file names without dots or spaces')
    return stem


def _resize_one(job):
    import cv2
    from sdakd_basicsr.data.gcfsr_dataset import resize_square
    src, dst, size, method = job
    if osp.isfile(dst):
        img = cv2.imread(dst, cv2.IMREAD_UNCHANGED)
        if img is not None and img.shape[:2] == (size, size):
            return 'kept'
    img = cv2.imread(src, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f'cannot read image {src}')
    try:
        out = resize_square(img, size, method)
    except ValueError as err:
        raise ValueError(f'{src}: {err}') from None
    if not cv2.imwrite(dst, out, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise OSError(f'cannot write {dst}')
    return 'written'


def _progress(i, total, what):
    step = max(1, total // 20)
    if i % step == 0 or i == total:
        print(f'{what} {i}/{total}', flush=True)


def main(argv=None):
    args = parse_args(argv)
    from PIL import Image  # reads the size from the header only
    from sdakd_basicsr.data.gcfsr_dataset import list_images

    # ordered by file name, so the LMDB and the resized folder list the images in the same order
    paths = sorted(list_images(args.input, recursive=True), key=lambda p: (osp.basename(p), p))
    if args.num is not None:
        paths = paths[:args.num]
    if not paths:
        sys.exit(f'no images found in {args.input}')
    keys = [_key_of(p) for p in paths]
    if len(set(keys)) != len(keys):
        sys.exit(f'file names (without extension) in {args.input} are not unique')
    print(f'{len(paths)} images from {args.input}', flush=True)

    if args.skip_resize:
        lmdb_root = args.input
        for i, path in enumerate(paths, 1):
            with Image.open(path) as img:
                if img.size != (args.size, args.size):
                    sys.exit(f'{path} is {img.size[0]}x{img.size[1]}, not {args.size}x{args.size}: drop --skip-resize')
            _progress(i, len(paths), 'checked')
        rel_paths = [osp.relpath(p, lmdb_root) for p in paths]
    else:
        os.makedirs(args.resized_dir, exist_ok=True)
        jobs = [(p, osp.join(args.resized_dir, f'{k}.png'), args.size, args.filter) for p, k in zip(paths, keys)]
        counts = {'kept': 0, 'written': 0}
        if args.workers > 1:
            with Pool(args.workers) as pool:
                for i, status in enumerate(pool.imap(_resize_one, jobs, chunksize=8), 1):
                    counts[status] += 1
                    _progress(i, len(jobs), 'resized')
        else:
            for i, job in enumerate(jobs, 1):
                counts[_resize_one(job)] += 1
                _progress(i, len(jobs), 'resized')
        print(f'{args.resized_dir}: {counts["written"]} written, {counts["kept"]} already there', flush=True)
        lmdb_root = args.resized_dir
        rel_paths = [f'{k}.png' for k in keys]

    if not args.no_lmdb:
        from basicsr.utils.lmdb_util import make_lmdb_from_imgs
        os.makedirs(osp.dirname(osp.abspath(args.lmdb)), exist_ok=True)
        make_lmdb_from_imgs(lmdb_root, args.lmdb, rel_paths, keys, compress_level=args.compress_level,
                            multiprocessing_read=args.workers > 1, n_thread=max(1, args.workers))
        print(f'LMDB written: {args.lmdb} ({len(keys)} images)', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
