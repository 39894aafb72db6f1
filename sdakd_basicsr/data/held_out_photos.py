"""A held-out test set of real photographs from a Debian package: GT crops and their bicubic x4 LR images.

Debian's ``mate-backgrounds`` ships a dozen nature photographs (GPL-2+, authors in the package's copyright
file) that neither the demo nor the tests train on. This command downloads the package with ``apt-get
download`` (no root needed; or give a ``.deb`` you already have with ``--deb``), unpacks it with ``dpkg -x``,
and writes, as the demo's validation set::

    <out>/gt/<photo>.png    a centre crop of the photo, downscaled first so its long side is --long-side px
    <out>/lq/<photo>.png    that crop bicubic-downscaled x4 (MATLAB-style, the usual SR protocol)
    <out>/SOURCES.md        where each photo comes from, its copyright holders and licence

The photos are never committed to the repository. Compare a student on them with::

    python -m sdakd_basicsr.data.held_out_photos --out datasets/held_out
    python -m sdakd_basicsr.compare -opt options/demo/sdakd_realesrgan_x4plus_demo.yml \\
        --lq datasets/held_out/lq --gt datasets/held_out/gt --out experiments/held_out_comparison
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import tempfile

import cv2

from sdakd_basicsr.data.demo_data import PNG_FLAGS, SCALE, bicubic_downscale, centre_crop

PACKAGE = 'mate-backgrounds'
#: the package's folder of nature photographs
PHOTO_DIR = os.path.join('usr', 'share', 'backgrounds', 'mate', 'nature')
COPYRIGHT_FILE = os.path.join('usr', 'share', 'doc', PACKAGE, 'copyright')
DEFAULT_OUT = os.path.join('datasets', 'held_out')
DEFAULT_LONG_SIDE = 800
DEFAULT_CROP = 384


def download_package(folder, package=PACKAGE):
    """``apt-get download <package>`` into ``folder``; returns the ``.deb`` path (clear error without apt)."""
    try:
        subprocess.run(['apt-get', 'download', package], cwd=folder, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit('apt-get is not available here: download the Debian package '
                         f'{package} on a Debian/Ubuntu machine and pass it with --deb FILE.deb')
    except subprocess.CalledProcessError as error:
        raise SystemExit(f'apt-get download {package} failed ({error.stderr.strip()[-300:]}); '
                         'pass a downloaded .deb with --deb FILE.deb')
    found = glob.glob(os.path.join(folder, f'{package}_*.deb'))
    if not found:
        raise SystemExit(f'apt-get download {package} wrote no .deb into {folder}')
    return found[0]


def unpack(deb, folder):
    """``dpkg -x`` the package into ``folder`` (no root needed)."""
    if shutil.which('dpkg') is None:
        raise SystemExit('dpkg is not available here: unpack the .deb (an ar archive holding data.tar.*) yourself '
                         f'and pass the folder that holds {PHOTO_DIR} with --unpacked DIR')
    subprocess.run(['dpkg', '-x', deb, folder], check=True)
    return folder


def photo_licences(copyright_text):
    """{photo file name: (copyright holders, licence)} from a Debian machine-readable copyright file."""
    result = {}
    for paragraph in re.split(r'\n\s*\n', copyright_text):
        files = re.search(r'^Files:(.*?)(?=^\S)', paragraph + '\nEnd:', re.M | re.S)
        holders = re.search(r'^Copyright:(.*?)(?=^\S)', paragraph + '\nEnd:', re.M | re.S)
        licence = re.search(r'^License:\s*(\S+)', paragraph, re.M)
        if not (files and holders and licence):
            continue
        who = '; '.join(' '.join(line.split()) for line in holders.group(1).strip().splitlines())
        for name in files.group(1).split():
            if not name.startswith('debian/'):  # the packaging's own files, never a photo
                result[os.path.basename(name)] = (who, licence.group(1))
    return result


def read_downscaled(path, long_side):
    """The photo at ``path`` (BGR), downscaled with area interpolation to a long side of at most ``long_side``."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None
    if bgr is None:
        raise SystemExit(f'{path}: not a readable image')
    h, w = bgr.shape[:2]
    factor = long_side / max(h, w)
    if factor < 1:
        bgr = cv2.resize(bgr, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
    return bgr


def write_held_out_set(unpacked, out=DEFAULT_OUT, long_side=DEFAULT_LONG_SIDE, crop=DEFAULT_CROP):
    """Write GT/LR pairs and SOURCES.md from an unpacked ``mate-backgrounds`` tree.

    Args:
        unpacked (str): Folder that holds ``usr/share/backgrounds/mate/nature``.
        out (str): Output folder.
        long_side (int): Each photo is first downscaled (area interpolation) so that its long side has this length.
        crop (int): Side of the square GT centre crop (a multiple of 4).

    Returns:
        list[str]: The written photo names.
    """
    if crop % SCALE:
        raise ValueError(f'--crop {crop} must be a multiple of {SCALE}')
    photos = sorted(glob.glob(os.path.join(unpacked, PHOTO_DIR, '*.jpg')))
    if not photos:
        raise SystemExit(f'no photos under {os.path.join(unpacked, PHOTO_DIR)}: is this the unpacked {PACKAGE}?')
    copyright_path = os.path.join(unpacked, COPYRIGHT_FILE)
    licences = photo_licences(open(copyright_path, encoding='utf-8').read()) if os.path.isfile(copyright_path) else {}
    for sub in ('gt', 'lq'):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    names, rows = [], []
    for path in photos:
        gt = centre_crop(read_downscaled(path, long_side)[..., ::-1], crop)  # RGB
        name = os.path.splitext(os.path.basename(path))[0]
        for sub, image in (('gt', gt), ('lq', bicubic_downscale(gt))):
            cv2.imwrite(os.path.join(out, sub, f'{name}.png'), image[..., ::-1].copy(), PNG_FLAGS)
        who, licence = licences.get(os.path.basename(path), ('see the package\'s copyright file', 'unknown'))
        rows.append(f'| {name} | {PACKAGE}: {os.path.join(PHOTO_DIR, os.path.basename(path))} | {who} | {licence} |')
        names.append(name)
    with open(os.path.join(out, 'SOURCES.md'), 'w') as handle:
        handle.write(f'# Held-out photos\n\nFrom the Debian package `{PACKAGE}`, downscaled to a long side of '
                     f'{long_side} px, centre {crop} px crops (GT), bicubic x{SCALE} (LR). Not for redistribution '
                     'without the licence terms.\n\n| photo | source | copyright | licence |\n'
                     '| --- | --- | --- | --- |\n' + '\n'.join(rows) + '\n')
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder (default: %(default)s)')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--deb', help=f'an already downloaded {PACKAGE} .deb (default: apt-get download it)')
    source.add_argument('--unpacked', help=f'an already unpacked {PACKAGE} (the folder holding usr/)')
    parser.add_argument('--long-side', type=int, default=DEFAULT_LONG_SIDE, help='downscale photos to this long side')
    parser.add_argument('--crop', type=int, default=DEFAULT_CROP, help='GT crop side in px (LR: a quarter)')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='sdakd-held-out-') as work:
        unpacked = args.unpacked or unpack(args.deb or download_package(work), os.path.join(work, 'unpacked'))
        names = write_held_out_set(unpacked, args.out, args.long_side, args.crop)
    print(f'Wrote {len(names)} held-out pairs ({args.crop} px GT / {args.crop // SCALE} px LR) under {args.out}; '
          f'sources and licences: {os.path.join(args.out, "SOURCES.md")}')
    return names


if __name__ == '__main__':
    main()
