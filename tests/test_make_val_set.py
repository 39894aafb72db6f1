"""The validation-set command: pairs degraded once as the evaluation does, where the option files read them."""
import glob
import os

import cv2
import numpy as np
import pytest

import sdakd_basicsr  # noqa: F401
from helpers import REPO_ROOT, TINY_REALESRGAN_YML, load_yaml
from sdakd_basicsr import make_val_set
from sdakd_basicsr.data.realesrgan_eval_data import degrade_realesrgan_once
from sdakd_basicsr.utils.option_checks import OptionError, check_dataset_paths

FULL_SCALE = sorted(glob.glob(os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus*.yml')) +
                    glob.glob(os.path.join(REPO_ROOT, 'options', '[ab]*', 'realesrgan_x4plus_*.yml')))


@pytest.fixture(scope='module')
def hr_folder(tmp_path_factory):
    """Three small HR photos (scikit-image's), 96 px crops."""
    import skimage.data
    folder = tmp_path_factory.mktemp('hr')
    for name in ('astronaut', 'coffee', 'chelsea'):
        img = getattr(skimage.data, name)()[:96, :104, ::-1]
        cv2.imwrite(str(folder / f'{name}.png'), np.ascontiguousarray(img))
    return str(folder)


def test_pairs_are_the_evaluations_own(hr_folder, tmp_path):
    opt = load_yaml(TINY_REALESRGAN_YML)
    out = str(tmp_path / 'datasets' / 'val')
    assert make_val_set.main(['--hr', hr_folder, '--opt', TINY_REALESRGAN_YML, '--out', out]) == 0
    names = sorted(os.listdir(os.path.join(out, 'gt')))
    assert names == ['astronaut.png', 'chelsea.png', 'coffee.png'] == sorted(os.listdir(os.path.join(out, 'lq')))
    eval_gt, eval_lq = degrade_realesrgan_once(opt, hr_folder, str(tmp_path / 'eval_cache'), seed=0)
    for name in names:
        gt, lq = (cv2.imread(os.path.join(out, kind, name)) for kind in ('gt', 'lq'))
        assert gt.shape == (96, 96, 3) and lq.shape == (24, 24, 3)
        assert np.array_equal(lq, cv2.imread(os.path.join(eval_lq, name)))
        assert np.array_equal(gt, cv2.imread(os.path.join(eval_gt, name)))
    with pytest.raises(FileExistsError, match='not empty'):
        make_val_set.make_val_set(hr_folder, opt, out)


@pytest.mark.parametrize('path', FULL_SCALE, ids=os.path.basename)
def test_full_scale_files_read_the_default_output(path):
    val = load_yaml(path)['datasets']['val']
    assert val['type'] == 'PairedImageDataset'
    expected = tuple(os.path.join(make_val_set.DEFAULT_OUT, kind) for kind in ('gt', 'lq'))
    assert (val['dataroot_gt'], val['dataroot_lq']) == expected


def test_a_missing_val_folder_names_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr('sys.argv', ['train', '-opt', 'options/sdakd_realesrgan_x4plus.yml'])
    opt = load_yaml(os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus.yml'))
    opt['datasets'].pop('train')
    with pytest.raises(OptionError) as info:
        check_dataset_paths(opt)
    assert ('python -m sdakd_basicsr.make_val_set --hr FOLDER_OF_HR_IMAGES --opt '
            'options/sdakd_realesrgan_x4plus.yml') in str(info.value)
    assert 'datasets.val.dataroot_gt' in str(info.value)
