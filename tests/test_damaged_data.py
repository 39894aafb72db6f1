"""A zero-byte, corrupt or missing training image is named (with its meta_info line) instead of an OpenCV
assertion, during training and by the folder check that can run before it."""
import copy
import logging
import os

import pytest

from basicsr.data import build_dataset

import sdakd_basicsr  # noqa: F401
from helpers import (TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML, load_yaml, training_opt, write_tiny_face_data,
                     write_tiny_realesrgan_data)
from sdakd_basicsr import check_data
from sdakd_basicsr.compat import create_train_val_dataloader
from sdakd_basicsr.data.image_files import DamagedImageError, FileNamingDataset, check_image_folder

DAMAGE = {'empty': (b'', 'empty (0 bytes)'), 'corrupt': (b'\x89PNG\r\n\x1a\n' + b'\x07' * 300, 'not a decodable')}


def damage(path, how):
    with open(path, 'wb') as handle:
        handle.write(DAMAGE[how][0])


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    write_tiny_realesrgan_data(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return training_opt(load_yaml(TINY_REALESRGAN_YML), str(tmp_path))


@pytest.mark.parametrize('how', sorted(DAMAGE))
def test_training_names_the_damaged_file_and_its_meta_info_line(tiny, how):
    damage('datasets/tiny/train/2.png', how)
    for phase in ('train', 'val'):
        tiny['datasets'][phase]['phase'] = phase
    train_loader = create_train_val_dataloader(tiny, logging.getLogger('test'))[0]
    assert isinstance(train_loader.dataset, FileNamingDataset)
    with pytest.raises(DamagedImageError) as info:
        for _ in train_loader:
            pass
    message = str(info.value)
    assert os.path.join('datasets/tiny/train', '2.png') in message
    assert 'line 3 of datasets/tiny/train/meta_info.txt' in message and DAMAGE[how][1] in message
    assert 'python -m sdakd_basicsr.check_data datasets/tiny/train' in message


def test_validation_pairs_name_the_damaged_low_resolution_file(tiny):
    damage('datasets/tiny/val/lq/a.png', 'corrupt')
    val_opt = dict(tiny['datasets']['val'], phase='val', scale=4)
    with pytest.raises(DamagedImageError, match=r'datasets/tiny/val/lq/a.png: not a decodable image'):
        FileNamingDataset(build_dataset(val_opt))[0]


def test_gcfsr_faces_dataset_names_the_damaged_file(tmp_path, monkeypatch):
    write_tiny_face_data(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    opt = copy.deepcopy(load_yaml(TINY_GCFSR_SDAKD_YML)['datasets']['train'])
    damage('datasets/tiny_gcfsr/train/1.png', 'empty')
    dataset = FileNamingDataset(build_dataset(dict(opt, phase='train')))
    dataset[0]
    with pytest.raises(DamagedImageError, match=r'tiny_gcfsr/train/1.png: empty \(0 bytes\)'):
        dataset[1]


def test_a_good_item_and_other_errors_pass_through(tiny):
    dataset = FileNamingDataset(build_dataset(dict(tiny['datasets']['train'], phase='train')))
    assert dataset[0]['gt'].shape[-1] == 400  # BasicSR's pad/crop size for Real-ESRGAN
    assert len(dataset) == 4 and dataset.opt['name'] == 'tiny_train'
    with pytest.raises(IndexError):
        dataset[10]


def test_check_image_folder_lists_every_problem(tmp_path, capsys):
    write_tiny_realesrgan_data(str(tmp_path))
    folder = str(tmp_path / 'datasets' / 'tiny' / 'train')
    meta = os.path.join(folder, 'meta_info.txt')
    assert check_image_folder(folder) == [] and check_image_folder(folder, meta) == []
    damage(os.path.join(folder, '0.png'), 'empty')
    damage(os.path.join(folder, '3.png'), 'corrupt')
    with open(meta, 'a') as handle:
        handle.write('gone.png\n')
    problems = check_image_folder(folder, meta)
    assert problems[0] == f'{folder}/0.png (line 1 of {meta}): empty (0 bytes)'
    assert problems[1].startswith(f'{folder}/3.png (line 4 of {meta}): not a decodable image')
    assert problems[2] == f'{folder}/gone.png (line 5 of {meta}): missing'
    assert len(check_image_folder(folder)) == 2  # without meta_info: the images found in the folder
    assert check_data.main([folder, '--meta-info', meta]) == 1
    out = capsys.readouterr().out
    assert 'gone.png' in out and '3 damaged or missing image(s)' in out
    assert check_data.main([str(tmp_path / 'datasets' / 'tiny' / 'val' / 'gt')]) == 0
