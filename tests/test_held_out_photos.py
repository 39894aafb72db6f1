"""The held-out photo set from a Debian package: pairs as the demo's validation set, sources and licences."""
import os
import subprocess

import cv2
import numpy as np
import pytest

from sdakd_basicsr.data import held_out_photos
from sdakd_basicsr.data.demo_data import bicubic_downscale, load_photo

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: nature/Aqua.jpg
       nature/Wood.jpg
Copyright: 2008, A Photographer <a@example.org>
License: GPL-2+

Files: nature/Dune.jpg
Copyright: 2007, B One
           2008, C Two
License: CC-BY-SA-3.0
"""


def fake_package(root):
    """An unpacked package tree with three real photos (scikit-image's) as JPEGs of different sizes."""
    photos = os.path.join(root, held_out_photos.PHOTO_DIR)
    os.makedirs(photos)
    for name, source in (('Aqua', 'astronaut'), ('Wood', 'rocket'), ('Dune', 'coffee')):
        cv2.imwrite(os.path.join(photos, f'{name}.jpg'), load_photo(source)[..., ::-1].copy())
    doc = os.path.join(root, os.path.dirname(held_out_photos.COPYRIGHT_FILE))
    os.makedirs(doc)
    with open(os.path.join(root, held_out_photos.COPYRIGHT_FILE), 'w') as handle:
        handle.write(COPYRIGHT)
    return root


def test_pairs_are_centre_crops_and_their_bicubic_lr_with_licences(tmp_path):
    unpacked, out = fake_package(str(tmp_path / 'pkg')), str(tmp_path / 'held_out')
    names = held_out_photos.main(['--unpacked', unpacked, '--out', out, '--long-side', '400', '--crop', '128'])
    assert names == ['Aqua', 'Dune', 'Wood']
    for name in names:
        gt = cv2.imread(os.path.join(out, 'gt', f'{name}.png'))[..., ::-1]
        lq = cv2.imread(os.path.join(out, 'lq', f'{name}.png'))[..., ::-1]
        assert gt.shape == (128, 128, 3) and lq.shape == (32, 32, 3)
        assert np.array_equal(lq, bicubic_downscale(gt))
    sources = open(os.path.join(out, 'SOURCES.md')).read()
    assert '| Dune | mate-backgrounds: usr/share/backgrounds/mate/nature/Dune.jpg | 2007, B One; 2008, C Two | ' \
           'CC-BY-SA-3.0 |' in sources
    assert '| Wood |' in sources and 'A Photographer <a@example.org> | GPL-2+ |' in sources


def test_crops_come_from_the_downscaled_photo(tmp_path):
    unpacked, out = fake_package(str(tmp_path / 'pkg')), str(tmp_path / 'held_out')
    held_out_photos.write_held_out_set(unpacked, out, long_side=256, crop=128)
    coffee = cv2.imread(os.path.join(unpacked, held_out_photos.PHOTO_DIR, 'Dune.jpg'))  # 400 x 600
    small = cv2.resize(coffee, (256, 171), interpolation=cv2.INTER_AREA)
    expected = small[21:149, 64:192]
    assert np.array_equal(cv2.imread(os.path.join(out, 'gt', 'Dune.png')), expected)


def test_clear_errors_without_apt_or_photos(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match='no photos under'):
        held_out_photos.write_held_out_set(str(tmp_path), str(tmp_path / 'out'))

    def no_apt(*args, **kwargs):
        raise FileNotFoundError('apt-get')
    monkeypatch.setattr(subprocess, 'run', no_apt)  # the network boundary: no apt-get on this machine
    with pytest.raises(SystemExit, match='--deb FILE.deb'):
        held_out_photos.download_package(str(tmp_path))
