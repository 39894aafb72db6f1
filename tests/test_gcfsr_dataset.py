"""GCFSR datasets and their preparation scripts, on a few 64 px faces made from scikit-image's astronaut."""
import importlib.util
import os
import random
import subprocess
import sys
from os import path as osp

import cv2
import numpy as np
import pytest
import torch

import sdakd_basicsr  # noqa: F401  (registers the datasets)
from basicsr.data import build_dataset
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import DATASET_REGISTRY

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = 64
SCALES = [4, 8, 16]  # 64 / 32 would leave 2 px


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'datasets', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _to01(tensor):
    """(3,H,W) RGB in [-1, 1] -> HWC BGR in [0, 1], as the dataset saw it."""
    return ((tensor.numpy().transpose(1, 2, 0)[:, :, ::-1] + 1) / 2).astype(np.float32)


def _down_up_reference(img01, scale, quantize_lr=False):
    lr = imresize(img01, 1 / scale)
    if quantize_lr:
        lr = np.round(np.clip(lr, 0, 1) * 255) / 255
    return np.round(np.clip(imresize(lr.astype(np.float32), scale), 0, 1) * 255) / 255


def _read01(path):
    return cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float32) / 255


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from skimage.data import astronaut
    root = tmp_path_factory.mktemp('gcfsr')
    raw = root / 'raw'
    (raw / 'sub').mkdir(parents=True)
    face = cv2.cvtColor(astronaut()[:256, 128:384], cv2.COLOR_RGB2BGR)  # the face region, 256 px
    variants = {
        'a0001.png': face,
        'a0002.jpg': face[:, ::-1],
        'sub/a0003.png': face[:, :, [1, 2, 0]],
        'a0004.png': cv2.resize(face[32:224, 32:224], (256, 256), interpolation=cv2.INTER_CUBIC),
    }
    for name, img in variants.items():
        img = cv2.resize(np.ascontiguousarray(img), (128, 128), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(raw / name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])

    prepare = _load_script('prepare_ffhq_lmdb')
    resized, lmdb_path = str(root / 'ffhq_64'), str(root / 'ffhq_64.lmdb')
    assert prepare.main(['--input', str(raw), '--size', str(SIZE), '--resized-dir', resized, '--lmdb', lmdb_path]) == 0
    make_val = _load_script('make_gcfsr_val')
    val = str(root / 'val_64')
    assert make_val.main(['--input', str(raw), '--output', val, '--size', str(SIZE), '--scales', *map(str, SCALES),
                          '--num', '3']) == 0
    return {'root': root, 'raw': str(raw), 'resized': resized, 'lmdb': lmdb_path, 'val': val,
            'prepare': prepare, 'make_val': make_val}


def _train_opt(data, backend='disk', **kw):
    opt = {'name': 'ffhq', 'type': 'GCFSRTrainDataset', 'phase': 'train', 'out_size': SIZE, 'scales': SCALES,
           'dataroot_gt': data['lmdb'] if backend == 'lmdb' else data['resized'], 'io_backend': {'type': backend}}
    opt.update(kw)
    return opt


def _val_opt(data, scale=8, with_lq=True, **kw):
    opt = {'name': 'val', 'type': 'GCFSRValDataset', 'phase': 'val', 'out_size': SIZE, 'scale': scale,
           'dataroot_gt': osp.join(data['val'], 'gt')}
    if with_lq:
        opt['dataroot_lq'] = osp.join(data['val'], f'lq_x{scale}')
    opt.update(kw)
    return opt


def _sample(dataset, index, seed):
    random.seed(seed)
    return dataset[index]


def test_scripts_help_without_heavy_imports():
    for script in ('prepare_ffhq_lmdb.py', 'make_gcfsr_val.py'):
        out = subprocess.run([sys.executable, osp.join(REPO, 'datasets', script), '--help'], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0 and '--size' in out.stdout


def test_prepare_script_outputs(data):
    names = sorted(os.listdir(data['resized']))
    assert names == ['a0001.png', 'a0002.png', 'a0003.png', 'a0004.png']
    for name in names:
        assert cv2.imread(osp.join(data['resized'], name)).shape == (SIZE, SIZE, 3)
    with open(osp.join(data['lmdb'], 'meta_info.txt')) as fin:
        lines = fin.read().split('\n')
    assert lines[0] == f'a0001.png ({SIZE},{SIZE},3) 1' and len([x for x in lines if x]) == 4

    only = str(data['root'] / 'only_resized')
    assert data['prepare'].main(['--input', data['raw'], '--size', '32', '--resized-dir', only, '--no-lmdb',
                                 '--num', '2', '--filter', 'area']) == 0
    assert sorted(os.listdir(only)) == ['a0001.png', 'a0002.png']
    assert not osp.exists(osp.join(only + '.lmdb'))
    with pytest.raises(SystemExit):  # never overwrite an LMDB
        data['prepare'].main(['--input', data['raw'], '--size', str(SIZE), '--lmdb', data['lmdb']])
    with pytest.raises(SystemExit):  # --skip-resize checks sizes
        data['prepare'].main(['--input', data['raw'], '--size', str(SIZE), '--skip-resize',
                              '--lmdb', str(data['root'] / 'x.lmdb')])


def test_folder_and_lmdb_give_the_same_samples(data):
    folder = build_dataset(_train_opt(data, 'disk'))
    lmdb = build_dataset(_train_opt(data, 'lmdb'))
    assert len(folder) == len(lmdb) == 4
    for index in range(4):
        a, b = _sample(folder, index, seed=index), _sample(lmdb, index, seed=index)
        for key in ('lq', 'gt', 'in_size'):
            assert torch.equal(a[key], b[key]), key
        assert a['gt_path'] == osp.join(data['resized'], f'a000{index + 1}.png')
        assert b['gt_path'] == f'a000{index + 1}'


def test_train_sample_is_down_then_up_of_gt(data):
    dataset = build_dataset(_train_opt(data, 'lmdb', cond_norm=16, use_hflip=False))
    seen = set()
    for seed in range(12):
        out = _sample(dataset, seed % 4, seed)
        assert set(out) == {'lq', 'gt', 'in_size', 'gt_path'}
        assert out['lq'].shape == out['gt'].shape == (3, SIZE, SIZE)
        assert out['lq'].dtype == out['gt'].dtype == out['in_size'].dtype == torch.float32
        assert out['in_size'].shape == (1, )
        for key in ('lq', 'gt'):
            assert -1 <= out[key].min() and out[key].max() <= 1
        scale = out['in_size'].item() * 16
        assert scale in SCALES
        seen.add(int(scale))
        gt01 = _to01(out['gt'])
        np.testing.assert_allclose(gt01, _read01(osp.join(data['resized'], out['gt_path'] + '.png')), atol=1e-6)
        np.testing.assert_allclose(_to01(out['lq']), _down_up_reference(gt01, int(scale)), atol=1e-6)
    assert seen == set(SCALES)  # every factor gets drawn
    assert out['lq'].min() < -0.5 and out['lq'].max() > 0.5  # [-1, 1], not [0, 1]


def test_hflip(data):
    plain = build_dataset(_train_opt(data, use_hflip=False, scales=[4]))
    flip = build_dataset(_train_opt(data, scales=[4]))  # use_hflip defaults to true
    reference = plain[0]
    flipped = 0
    for seed in range(10):
        out = _sample(flip, 0, seed)
        if torch.equal(out['gt'], reference['gt']):
            assert torch.equal(out['lq'], reference['lq'])
        else:
            flipped += 1
            assert torch.equal(out['gt'], reference['gt'].flip(-1))
            np.testing.assert_allclose(_to01(out['lq']), _down_up_reference(_to01(out['gt']), 4), atol=1e-6)
    assert 0 < flipped < 10


def test_dataloader_batch_has_in_size_column(data):
    loader = torch.utils.data.DataLoader(build_dataset(_train_opt(data)), batch_size=2, num_workers=0)
    batch = next(iter(loader))
    assert batch['lq'].shape == (2, 3, SIZE, SIZE) and batch['in_size'].shape == (2, 1)


def test_make_val_outputs(data):
    assert sorted(os.listdir(data['val'])) == ['gt', 'lq_x16', 'lq_x4', 'lq_x8']
    assert sorted(os.listdir(osp.join(data['val'], 'gt'))) == ['a0001.png', 'a0002.png', 'a0004.png']  # not recursive
    gt = _read01(osp.join(data['val'], 'gt', 'a0002.png'))
    assert gt.shape == (SIZE, SIZE, 3)
    for s in SCALES:
        lr = _read01(osp.join(data['val'], f'lq_x{s}', 'a0002.png'))
        assert lr.shape == (SIZE // s, SIZE // s, 3)
        np.testing.assert_allclose(lr, np.round(np.clip(imresize(gt, 1 / s), 0, 1) * 255) / 255, atol=1e-6)


@pytest.mark.parametrize('scale', [4, 16])
def test_val_dataset_deterministic_and_matches_premade_lr(data, scale):
    premade = DATASET_REGISTRY.get('GCFSRValDataset')(_val_opt(data, scale))
    made = DATASET_REGISTRY.get('GCFSRValDataset')(_val_opt(data, scale, with_lq=False, cond_norm=64))
    assert len(premade) == len(made) == 3
    for index in range(3):
        a, b, b2 = premade[index], made[index], made[index]
        for key in ('lq', 'gt'):
            assert torch.equal(b[key], b2[key])
            assert torch.equal(a[key], b[key])
            assert a[key].shape == (3, SIZE, SIZE) and -1 <= a[key].min() and a[key].max() <= 1
        assert a['in_size'].item() == scale / 32 and b['in_size'].item() == scale / 64
        assert a['in_size'].shape == (1, )
        name = ['a0001.png', 'a0002.png', 'a0004.png'][index]
        assert a['gt_path'] == b['gt_path'] == b['lq_path'] == osp.join(data['val'], 'gt', name)
        assert a['lq_path'] == osp.join(data['val'], f'lq_x{scale}', name)
        gt01 = _to01(a['gt'])
        np.testing.assert_allclose(gt01, _read01(a['gt_path']), atol=1e-6)
        np.testing.assert_allclose(_to01(a['lq']), _down_up_reference(gt01, scale, quantize_lr=True), atol=1e-6)


@pytest.mark.parametrize('change, words', [
    ({'out_size': 32}, ['a0001', 'out_size', '64x64']),
    ({'scales': [5]}, ['scales', '5']),
    ({'scales': []}, ['scales']),
    ({'scales': [4, 'x']}, ['scales']),
    ({'cond_norm': 0}, ['cond_norm']),
    ({'use_hflip': 'yes'}, ['use_hflip']),
    ({'mean': [0.5]}, ['mean']),
    ({'std': [0.5, 0, 0.5]}, ['std']),
    ({'io_backend': {'type': 'memcached'}}, ['io_backend']),
    ({'dataroot_gt': '/nonexistent/gcfsr'}, ['dataroot_gt']),
])
def test_train_errors_name_the_option(data, change, words):
    with pytest.raises(ValueError) as err:
        dataset = DATASET_REGISTRY.get('GCFSRTrainDataset')(_train_opt(data, **change))
        dataset[0]  # a wrong image size shows when the image is read
    for word in words:
        assert word in str(err.value)


def test_lmdb_needs_lmdb_folder(data):
    with pytest.raises(ValueError, match='dataroot_gt.*lmdb'):
        DATASET_REGISTRY.get('GCFSRTrainDataset')(_train_opt(data, 'lmdb', dataroot_gt=data['resized']))


@pytest.mark.parametrize('change, words', [
    ({'scale': None}, ['scale']),
    ({'scale': 3}, ['scale', '3']),
    ({'out_size': 128, 'dataroot_lq': None}, ['a0001', 'out_size']),
    ({'dataroot_lq': 'LQ_X4'}, ['LR image', 'scale']),  # x4 LR files given to a x8 set
    ({'dataroot_lq': 'GT_ONLY2'}, ['dataroot_lq', 'a0004']),
    ({'io_backend': {'type': 'lmdb'}}, ['io_backend']),
])
def test_val_errors_name_the_option(data, change, words, tmp_path):
    if change.get('dataroot_lq') == 'LQ_X4':
        change['dataroot_lq'] = osp.join(data['val'], 'lq_x4')
    elif change.get('dataroot_lq') == 'GT_ONLY2':
        for name in ('a0001.png', 'a0002.png'):
            os.link(osp.join(data['val'], 'lq_x8', name), tmp_path / name)
        change['dataroot_lq'] = str(tmp_path)
    opt = _val_opt(data, 8)
    opt.update(change)
    if opt.get('dataroot_lq') is None:
        opt.pop('dataroot_lq')
    with pytest.raises(ValueError) as err:
        DATASET_REGISTRY.get('GCFSRValDataset')(opt)[0]
    for word in words:
        assert word in str(err.value)
