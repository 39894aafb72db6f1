"""A training set of 24 real photographs from three Debian wallpaper packages, as 400 px tiles for BasicSR.

The demo trains on four scikit-image photos; a student distilled on so few memorises them and learns only their
colours (docs/results.md). This command installs a larger, more varied pool that the project's scripts can fetch
without an account: the photographs (not the drawn or rendered artwork) of

* ``lomiri-wallpapers-16.04`` and ``lomiri-wallpapers-20.04`` (Ubuntu community photos; CC-BY-4.0, CC-BY-SA-3.0/4.0
  or CC0-1.0 per photo, as the packages' copyright files state), and
* ``plasma-workspace-wallpapers`` (KDE; GPL-2+).

None of them comes from ``mate-backgrounds``, the source of the held-out set
(:mod:`sdakd_basicsr.data.held_out_photos`), so training and held-out photos are disjoint by construction.
Packages are fetched with ``apt-get download`` (no root) or taken from ``--debs DIR``; each photo is downscaled
(area) to a long side of ``--long-side`` px and cut into 400 px tiles (the size BasicSR's ``RealESRGANDataset``
expects), the last tile of a row or column flush with the photo's edge::

    <out>/gt/<photo>_y<top>_x<left>.png   the tiles
    <out>/meta_info.txt                   one tile file name per line (datasets.train.meta_info)
    <out>/SOURCES.md                      package, file, copyright holders and licence of every photo

The photos are never committed to the repository. ``options/demo/sdakd_realesrgan_x4plus_cpu_hour.yml`` trains on
``datasets/photos``::

    python -m sdakd_basicsr.data.training_photos --out datasets/photos
"""
import argparse
import glob
import json
import os
import tempfile

import cv2

from sdakd_basicsr.data.demo_data import PNG_FLAGS
from sdakd_basicsr.data.held_out_photos import download_package, photo_licences, read_downscaled, unpack

DEFAULT_OUT = os.path.join('datasets', 'photos')
DEFAULT_LONG_SIDE = 800
TILE = 400

_LOMIRI_DIR = os.path.join('usr', 'share', 'backgrounds')
_PLASMA_DIR = os.path.join('usr', 'share', 'wallpapers')
#: package -> the photographs it holds (the packages' artwork is left out: flat gradients teach no texture)
PHOTOS = {
    'lomiri-wallpapers-16.04': [
        'Bridge_by_Sander_Klootwijk', 'Dragonfly_by_Bolly', 'Picture_0B_by_freespace', 'Picture_1A_by_freespace',
        'Wine_by_Jakkub_Mede', 'aitzgorri_by_Aitzol_Berasategi', 'free_by_Peter_Nerlich',
        'friends_by_Aitzol_Berasategi', 'life_by_Aitzol_Berasategi', 'picosdeeuropa_by_Aitzol_Berasategi',
        'seeding_by_Clements_Engelhardt', 'sunset_by_Aitzol_Berasategi'],
    'lomiri-wallpapers-20.04': ['Kleiber_by_Lukas_Baubkus'],
    'plasma-workspace-wallpapers': [
        'BytheWater', 'ColdRipple', 'ColorfulCups', 'DarkestHour', 'EveningGlow', 'FallenLeaf', 'Grey', 'Kite',
        'OneStandsOut', 'Path', 'summer_1am'],
}


def photo_file(unpacked, package, photo):
    """Path of ``photo`` inside the unpacked ``package``: the JPEG itself, or a KDE wallpaper's largest image."""
    if package.startswith('lomiri'):
        return os.path.join(unpacked, _LOMIRI_DIR, f'{photo}.jpg')
    images = glob.glob(os.path.join(unpacked, _PLASMA_DIR, photo, 'contents', 'images', '*.*'))

    def pixels(path):
        width, _, height = os.path.splitext(os.path.basename(path))[0].partition('x')
        return int(width) * int(height) if width.isdigit() and height.isdigit() else 0
    return max(images, key=pixels) if images else os.path.join(unpacked, _PLASMA_DIR, photo, 'contents', 'images')


def kde_author(unpacked, photo):
    """The author a KDE wallpaper's ``metadata.json`` names, or None."""
    path = os.path.join(unpacked, _PLASMA_DIR, photo, 'metadata.json')
    if not os.path.isfile(path):
        return None
    authors = json.load(open(path, encoding='utf-8')).get('KPlugin', {}).get('Authors', [])
    return ', '.join(author.get('Name', '') for author in authors if author.get('Name')) or None


def tile_origins(length, tile=TILE):
    """Tile starts along one side: every ``tile`` px, the last one flush with the edge (overlapping if need be)."""
    if length < tile:
        return []
    starts = list(range(0, length - tile + 1, tile))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def write_training_set(unpacked, out=DEFAULT_OUT, long_side=DEFAULT_LONG_SIDE, photos=None):
    """Write the tiles, ``meta_info.txt`` and ``SOURCES.md`` from unpacked packages.

    Args:
        unpacked (dict[str, str]): Package name -> the folder it was unpacked into (the one holding ``usr/``).
        out (str): Output folder.
        long_side (int): Each photo is first downscaled (area interpolation) so that its long side has this length;
            at least the 400 px tile side.
        photos (dict[str, list[str]] | None): Package -> photo names (default: :data:`PHOTOS`).

    Returns:
        list[str]: The written tile file names (relative to ``<out>/gt``).
    """
    if long_side < TILE:
        raise ValueError(f'--long-side {long_side} must be at least the tile side {TILE}')
    photos = PHOTOS if photos is None else photos
    os.makedirs(os.path.join(out, 'gt'), exist_ok=True)
    tiles, rows = [], []
    for package, names in photos.items():
        copyright_path = os.path.join(unpacked[package], 'usr', 'share', 'doc', package, 'copyright')
        if not os.path.isfile(copyright_path):
            raise SystemExit(f'{copyright_path} is missing: is {unpacked[package]} the unpacked {package}?')
        licences = photo_licences(open(copyright_path, encoding='utf-8').read())
        for name in names:
            path = photo_file(unpacked[package], package, name)
            if not os.path.isfile(path):
                raise SystemExit(f'{path}: no photo {name} in the unpacked {package}')
            bgr = read_downscaled(path, long_side)
            h, w = bgr.shape[:2]
            written = 0
            for top in tile_origins(h):
                for left in tile_origins(w):
                    tile_name = f'{name}_y{top}_x{left}.png'
                    cv2.imwrite(os.path.join(out, 'gt', tile_name), bgr[top:top + TILE, left:left + TILE], PNG_FLAGS)
                    tiles.append(tile_name)
                    written += 1
            who, licence = licences.get(os.path.basename(path)) or licences.get('*') or ('see the copyright file', '?')
            author = kde_author(unpacked[package], name) if package.startswith('plasma') else None
            if author:
                who = f'{who} (author: {author})'
            source = os.path.relpath(path, unpacked[package])
            rows.append(f'| {name} | {package}: {source} | {who} | {licence} | {written} |')
    with open(os.path.join(out, 'meta_info.txt'), 'w') as handle:
        handle.write('\n'.join(tiles) + '\n')
    with open(os.path.join(out, 'SOURCES.md'), 'w') as handle:
        handle.write(f'# Training photos\n\nFrom Debian wallpaper packages, downscaled to a long side of {long_side} '
                     f'px and cut into {TILE} px tiles. Not for redistribution without the licence terms.\n\n'
                     '| photo | source | copyright | licence | tiles |\n| --- | --- | --- | --- | --- |\n'
                     + '\n'.join(rows) + '\n')
    return tiles


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--out', default=DEFAULT_OUT, help='output folder (default: %(default)s)')
    parser.add_argument('--debs', help='a folder that already holds the three packages\' .deb files '
                        '(default: apt-get download them)')
    parser.add_argument('--long-side', type=int, default=DEFAULT_LONG_SIDE, help='downscale photos to this long side')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='sdakd-photos-') as work:
        unpacked = {}
        for package in PHOTOS:
            found = sorted(glob.glob(os.path.join(args.debs, f'{package}_*.deb'))) if args.debs else []
            if args.debs and not found:
                raise SystemExit(f'--debs {args.debs}: no {package}_*.deb there')
            deb = found[-1] if found else download_package(work, package)
            unpacked[package] = unpack(deb, os.path.join(work, package))
        tiles = write_training_set(unpacked, args.out, args.long_side)
    print(f'Wrote {len(tiles)} training tiles ({TILE} px) of {sum(map(len, PHOTOS.values()))} photos under '
          f'{args.out}; sources and licences: {os.path.join(args.out, "SOURCES.md")}')
    return tiles


if __name__ == '__main__':
    main()
