"""The evaluation command end to end on tiny configurations of both families.

PLUMBING ONLY: teachers, students and the FID/LPIPS backbones have random weights; the numbers mean nothing.
What is checked: the files written, the rows, the one-off degradation reused by every later run, GCFSR factors,
and that missing weight files leave those metrics unavailable while the rest is computed.
"""
import csv
import json
import os

import cv2
import pytest

from helpers import (TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML, load_yaml, make_experiment,
                     prepare_tiny_realesrgan_run, save_random_teacher, write_tiny_face_data)
from sdakd_basicsr.data.gcfsr_eval_data import gcfsr_factors
from sdakd_basicsr.metrics.evaluate import main as evaluate
from test_metrics import random_metric_weights  # noqa: F401  (fixture)


def weight_args(weights):
    return ['--inception-weights', weights['inception'], '--lpips-backbone', weights['alexnet'], '--fid-dims', '64',
            '--latency-repeats', '1']


@pytest.fixture
def realesrgan_experiment(tmp_path, monkeypatch):
    root = str(tmp_path)
    prepare_tiny_realesrgan_run(root)
    val = os.path.join(root, 'datasets', 'tiny', 'val')
    flipped = cv2.imread(os.path.join(val, 'gt', 'a.png'))[:, ::-1]  # a second image, so that FID has a covariance
    cv2.imwrite(os.path.join(val, 'gt', 'b.png'), flipped)
    cv2.imwrite(os.path.join(val, 'lq', 'b.png'), cv2.resize(flipped, (16, 16), interpolation=cv2.INTER_AREA))
    monkeypatch.chdir(root)  # option paths are relative to the working directory, as for basicsr.train
    return make_experiment(root, TINY_REALESRGAN_YML)


def test_realesrgan_evaluation_writes_json_and_csv_with_all_rows(realesrgan_experiment, random_metric_weights):  # noqa: F811,E501
    exp_dir = realesrgan_experiment
    result = evaluate([exp_dir, '--cache-dir', 'cache'] + weight_args(random_metric_weights))
    assert result['metrics_status'] == {m: 'ok' for m in ('psnr', 'ssim', 'lpips', 'niqe', 'fid')}
    saved = json.load(open(os.path.join(exp_dir, 'evaluation', 'results.json')))
    assert [r['row'] for r in saved['rows']] == ['student', 'teacher', 'bicubic']
    (info, ) = saved['sets']
    assert info['name'] == 'tiny_val_realesrgan_seed0' and info['n_images'] == 2 and info['factor'] == 4
    for row in saved['rows']:
        assert row['n_images'] == 2
        for metric in ('psnr', 'ssim', 'lpips', 'fid'):
            assert isinstance(row[metric], float), (row['row'], metric)
        assert row['niqe'] is None and row['niqe_n_images'] == 0  # 64 px outputs hold no two NIQE blocks
    assert saved['checkpoints']['student']['path'].endswith('net_g_latest.pth')
    eff = saved['efficiency']
    assert 0 < eff['student']['params'] < eff['teacher']['params'] and eff['student']['macs'] > 0
    assert eff['student']['input_shape'] == [1, 3, 16, 16] and eff['teacher']['latency_ms'] > 0
    assert saved['width'] == 0.5 and saved['seed'] == 0 and saved['total_iter'] == 6 and saved['family'] == 'realesrgan'
    with open(os.path.join(exp_dir, 'evaluation', 'results.csv')) as handle:
        table = list(csv.DictReader(handle))
    assert [r['row'] for r in table] == ['student', 'teacher', 'bicubic'] and float(table[0]['params']) > 0
    images = os.path.join(exp_dir, 'evaluation', 'images', 'tiny_val_realesrgan_seed0_x4')
    assert sorted(os.listdir(os.path.join(images, 'student'))) == ['a.png', 'b.png']
    assert cv2.imread(os.path.join(images, 'student', 'a.png')).shape == (64, 64, 3)


def test_the_validation_set_is_degraded_once_and_reused(realesrgan_experiment):
    exp_dir = realesrgan_experiment
    args = [exp_dir, '--cache-dir', 'cache', '--rows', 'bicubic', '--metrics', 'psnr', '--latency-repeats', '0']
    first = evaluate(args + ['--tag', 'first'])
    (degraded, ) = [os.path.join('cache', d) for d in os.listdir('cache') if d.startswith('tiny_val_realesrgan')]
    lq_file = os.path.join(degraded, 'lq', 'a.png')
    assert cv2.imread(lq_file).shape == (16, 16, 3)
    stamp = os.path.getmtime(lq_file)
    second = evaluate(args + ['--tag', 'second'])
    assert os.path.getmtime(lq_file) == stamp and first['rows'] == second['rows']
    other_seed = evaluate(args + ['--degrade-seed', '1', '--tag', 'seed1'])
    assert other_seed['rows'][0]['psnr'] != first['rows'][0]['psnr']
    assert os.path.isfile(os.path.join(exp_dir, 'evaluation', 'seed1.json'))
    given = evaluate(args + ['--lq', 'datasets/tiny/val/lq', '--gt', 'datasets/tiny/val/gt', '--tag', 'given'])
    assert given['sets'][0]['lq_dir'] == 'datasets/tiny/val/lq'


def test_gcfsr_evaluation_per_factor_with_missing_weights_reported(tmp_path, monkeypatch):
    root = str(tmp_path)
    write_tiny_face_data(root)
    opt = load_yaml(TINY_GCFSR_SDAKD_YML)
    save_random_teacher(os.path.join(root, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    monkeypatch.chdir(root)
    monkeypatch.setenv('TORCH_HOME', os.path.join(root, 'empty_torch_home'))
    exp_dir = make_experiment(root, TINY_GCFSR_SDAKD_YML)
    result = evaluate([exp_dir, '--cache-dir', 'cache', '--latency-repeats', '1'])
    for metric in ('fid', 'lpips'):
        assert result['metrics_status'][metric].startswith('unavailable')
    assert 'pt_inception-2015-12-05-6726825d.pth' in result['metrics_status']['fid']
    assert 'alexnet-owt-7be5be79.pth' in result['metrics_status']['lpips']
    assert [s['factor'] for s in result['sets']] == [8]  # 64 px faces: x16 would leave a 4 px LR image
    rows = {r['row']: r for r in result['rows']}
    assert sorted(rows) == ['bicubic', 'student', 'teacher']
    for row in rows.values():
        assert isinstance(row['psnr'], float) and row['fid'] is None and row['lpips'] is None
    assert result['efficiency']['student']['input_shape'] == [1, 3, 64, 64]
    assert os.path.isfile(os.path.join(exp_dir, 'evaluation', 'results.csv'))


def test_gcfsr_factors_follow_the_size():
    assert gcfsr_factors(512) == [8, 16, 32, 64]
    assert gcfsr_factors(256) == [8, 16, 32]
    assert gcfsr_factors(64) == [8]


def test_a_missing_student_checkpoint_is_a_clear_error(realesrgan_experiment):
    os.remove(os.path.join(realesrgan_experiment, 'models', 'net_g_latest.pth'))
    with pytest.raises(FileNotFoundError, match='--checkpoint'):
        evaluate([realesrgan_experiment, '--metrics', 'psnr'])
