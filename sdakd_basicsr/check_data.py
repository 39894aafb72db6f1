"""Check a folder of training images before training: ``python -m sdakd_basicsr.check_data FOLDER [--meta-info F]``.

Lists every image that is missing (from ``meta_info``), empty or cannot be decoded; exits with status 1 if any.
"""
import argparse
import sys

from sdakd_basicsr.data.image_files import check_image_folder


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m sdakd_basicsr.check_data', description=__doc__.splitlines()[0])
    parser.add_argument('folder', help='folder of images (e.g. datasets.train.dataroot_gt)')
    parser.add_argument('--meta-info', default=None,
                        help='meta_info file listing the images (datasets.train.meta_info); default: every image '
                             'under FOLDER')
    args = parser.parse_args(argv)
    problems = check_image_folder(args.folder, args.meta_info)
    for line in problems:
        print(line)
    print(f'{len(problems)} damaged or missing image(s)' if problems else f'{args.folder}: all images readable')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
