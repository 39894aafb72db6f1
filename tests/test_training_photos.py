"""The training photo pool from Debian wallpaper packages: tiles, meta_info and licences."""
import json
import os

import cv2
import numpy as np
import pytest

from sdakd_basicsr.data import training_photos
from sdakd_basicsr.data.demo_data import load_photo

LOMIRI_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: 16.04/Bridge_by_Someone.jpg
Copyright: 2018. Someone
License: CC-BY-SA-4.0
"""
PLASMA_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2014 A Design Group
License: GPL-2+

Files: debian/*
Copyright: 2014, A Packager
License: GPL-2+-packaging
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


def fake_packages(root):
    """Two unpacked packages: a lomiri JPEG (astronaut, 512 px) and a KDE wallpaper in two sizes (coffee)."""
    lomiri, plasma = os.path.join(root, 'lomiri'), os.path.join(root, 'plasma')
    os.makedirs(os.path.join(lomiri, 'usr', 'share', 'backgrounds'))
    cv2.imwrite(os.path.join(lomiri, 'usr', 'share', 'backgrounds', 'Bridge_by_Someone.jpg'),
                load_photo('astronaut')[..., ::-1].copy())
    write(os.path.join(lomiri, 'usr', 'share', 'doc', 'lomiri-wallpapers-16.04', 'copyright'), LOMIRI_COPYRIGHT)
    images = os.path.join(plasma, 'usr', 'share', 'wallpapers', 'Cups', 'contents', 'images')
    os.makedirs(images)
    coffee = load_photo('coffee')[..., ::-1]  # 400 x 600
    cv2.imwrite(os.path.join(images, '600x400.png'), coffee)
    cv2.imwrite(os.path.join(images, '300x200.png'), cv2.resize(coffee, (300, 200), interpolation=cv2.INTER_AREA))
    write(os.path.join(plasma, 'usr', 'share', 'wallpapers', 'Cups', 'metadata.json'),
          json.dumps({'KPlugin': {'Authors': [{'Name': 'A Photographer'}], 'Name': 'Cups'}}))
    write(os.path.join(plasma, 'usr', 'share', 'doc', 'plasma-workspace-wallpapers', 'copyright'), PLASMA_COPYRIGHT)
    return ({'lomiri-wallpapers-16.04': lomiri, 'plasma-workspace-wallpapers': plasma},
            {'lomiri-wallpapers-16.04': ['Bridge_by_Someone'], 'plasma-workspace-wallpapers': ['Cups']})


def test_tile_origins_cover_the_side_with_the_last_tile_flush():
    assert training_photos.tile_origins(400) == [0]
    assert training_photos.tile_origins(800) == [0, 400]
    assert training_photos.tile_origins(533) == [0, 133]
    assert training_photos.tile_origins(1000) == [0, 400, 600]
    assert training_photos.tile_origins(399) == []


def test_tiles_come_from_the_downscaled_largest_image_with_licences(tmp_path):
    unpacked, photos = fake_packages(str(tmp_path / 'pkg'))
    out = str(tmp_path / 'photos')
    tiles = training_photos.write_training_set(unpacked, out, long_side=500, photos=photos)
    # astronaut 512 -> 500 x 500: tiles at 0 and 100 on both axes; coffee's 600 x 400 image -> 500 x 333: one row
    assert tiles == ['Bridge_by_Someone_y0_x0.png', 'Bridge_by_Someone_y0_x100.png', 'Bridge_by_Someone_y100_x0.png',
                     'Bridge_by_Someone_y100_x100.png']
    assert open(os.path.join(out, 'meta_info.txt')).read().split() == tiles
    photo = cv2.imread(os.path.join(unpacked['lomiri-wallpapers-16.04'], 'usr', 'share', 'backgrounds',
                                    'Bridge_by_Someone.jpg'))
    small = cv2.resize(photo, (500, 500), interpolation=cv2.INTER_AREA)
    assert np.array_equal(cv2.imread(os.path.join(out, 'gt', 'Bridge_by_Someone_y100_x0.png')), small[100:, :400])
    sources = open(os.path.join(out, 'SOURCES.md')).read()
    assert '| Bridge_by_Someone | lomiri-wallpapers-16.04: usr/share/backgrounds/Bridge_by_Someone.jpg | ' \
           '2018. Someone | CC-BY-SA-4.0 | 4 |' in sources
    # the package-wide paragraph, not the packaging's own (debian/*), and the author from metadata.json
    assert '| Cups | plasma-workspace-wallpapers: usr/share/wallpapers/Cups/contents/images/600x400.png | ' \
           '2014 A Design Group (author: A Photographer) | GPL-2+ | 0 |' in sources

    tiles = training_photos.write_training_set(unpacked, str(tmp_path / 'big'), long_side=600, photos=photos)
    assert 'Cups_y0_x200.png' in tiles and len(tiles) == 4 + 2


def test_clear_errors_for_a_missing_photo_package_or_deb(tmp_path):
    unpacked, photos = fake_packages(str(tmp_path / 'pkg'))
    with pytest.raises(SystemExit, match='no photo Gone'):
        training_photos.write_training_set(unpacked, str(tmp_path / 'out'),
                                           photos={'lomiri-wallpapers-16.04': ['Gone']})
    with pytest.raises(SystemExit, match='copyright is missing'):
        training_photos.write_training_set({'lomiri-wallpapers-16.04': str(tmp_path)}, str(tmp_path / 'out'),
                                           photos={'lomiri-wallpapers-16.04': ['x']})
    with pytest.raises(ValueError, match='--long-side 300'):
        training_photos.write_training_set(unpacked, str(tmp_path / 'out'), long_side=300, photos=photos)
    with pytest.raises(SystemExit, match='no lomiri-wallpapers-16.04_'):
        training_photos.main(['--debs', str(tmp_path), '--out', str(tmp_path / 'out')])
