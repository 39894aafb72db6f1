"""The table command on experiment folders whose evaluation JSON the real evaluator wrote.

One tiny Real-ESRGAN experiment (random-weight teacher and student) is evaluated once; every fixture folder is a
copy of that JSON with the fields the tables read set to chosen values (several seeds, both families). Fields are
only ever overwritten, never added, so a change of the evaluator's schema breaks these tests.
"""
import csv
import json
import os
from copy import deepcopy

import pytest

from helpers import TINY_REALESRGAN_YML, make_experiment, prepare_tiny_realesrgan_run

from sdakd_basicsr.metrics.evaluate import main as evaluate
from sdakd_basicsr.metrics.tables import main as make_tables


@pytest.fixture(scope='module')
def evaluated(tmp_path_factory):
    """results.json of the real evaluator on a tiny experiment (LPIPS/FID unavailable: no weight files)."""
    root = str(tmp_path_factory.mktemp('evaluated'))
    cwd = os.getcwd()
    os.chdir(root)  # option paths are relative to the working directory, as for basicsr.train
    try:
        prepare_tiny_realesrgan_run(root)
        exp_dir = make_experiment(root, TINY_REALESRGAN_YML)
        evaluate([exp_dir, '--lq', os.path.join('datasets', 'tiny', 'val', 'lq'), '--latency-repeats', '1',
                  '--device', 'cpu'])
        with open(os.path.join(exp_dir, 'evaluation', 'results.json')) as handle:
            return json.load(handle)
    finally:
        os.chdir(cwd)


def put(record, key, value):
    """``record[key] = value`` for a key the evaluator wrote (a KeyError names a field it no longer writes)."""
    if key not in record:
        raise KeyError(f'the evaluator no longer writes {key!r} (it writes {sorted(record)})')
    record[key] = value


def write_result(template, root, name, family, width, seed, psnr, student_ms, sets):
    """The evaluator's results.json with this experiment's identity and metric values."""
    result = deepcopy(template)
    for key, value in dict(experiment=name, name=name, family=family, width=width, d_width=width, seed=seed,
                           total_iter=120).items():
        put(result, key, value)
    rows_by_name = {row['row']: row for row in template['rows']}
    rows = []
    for set_name, factor in sets:
        shift = 0 if factor in (4, 8) else -3  # harder factor, lower PSNR
        for row_name, value in (('student', psnr + shift), ('teacher', 30.0 + shift), ('bicubic', 20.0 + shift)):
            row = deepcopy(rows_by_name[row_name])
            for key, field in dict(set=set_name, factor=factor, psnr=value, ssim=0.5, fid=40.0 + seed).items():
                put(row, key, field)
            rows.append(row)
    put(result, 'rows', rows)
    put(result, 'sets', [dict(template['sets'][0], name=s, factor=f) for s, f in sets])
    efficiency = result['efficiency']
    for key, value in dict(params=int(1e6 * width), macs=int(2e9 * width), latency_ms=student_ms).items():
        put(efficiency['student'], key, value)
    for key, value in dict(params=int(16e6), macs=int(3e10), latency_ms=100.0).items():
        put(efficiency['teacher'], key, value)
    folder = os.path.join(root, name, 'evaluation')
    os.makedirs(folder)
    with open(os.path.join(folder, 'results.json'), 'w') as handle:
        json.dump(result, handle)
    return os.path.dirname(folder)


def test_the_evaluator_writes_what_the_tables_read(evaluated):
    assert [row['row'] for row in evaluated['rows']] == ['student', 'teacher', 'bicubic']
    assert {'cpu', 'device', 'torch_threads'} <= set(evaluated['environment'])
    assert evaluated['metrics_status']['psnr'] == 'ok' and evaluated['metrics_status']['lpips'] != 'ok'
    assert {'params', 'macs', 'input_shape', 'latency_ms'} <= set(evaluated['efficiency']['student'])


@pytest.fixture
def folders(tmp_path, evaluated):
    root, out = str(tmp_path), []
    realesrgan_set, gcfsr_sets = [('val_realesrgan_seed0', 4)], [('faces', 8), ('faces', 16)]

    def add(*args):
        out.append(write_result(evaluated, root, *args))
    for seed, psnr in enumerate((20.0, 21.0, 22.0)):
        for width, ms in ((0.25, 20.0), (0.125, 10.0)):
            add(f'cmp_sdakd_w{width}_s{seed}', 'realesrgan', width, seed, psnr + width, ms + seed, realesrgan_set)
            add(f'cmp_no_kd_w{width}_s{seed}', 'realesrgan', width, seed, psnr - 1, ms + seed, realesrgan_set)
        add(f'cmp_teacher_d_scratch_w0.125_s{seed}', 'realesrgan', 0.125, seed, 19.0, 12.0, realesrgan_set)
        add(f'abl_no_feature_kd_w0.125_s{seed}', 'realesrgan', 0.125, seed, 18.0, 10.0, realesrgan_set)
        add(f'g_sdakd_w0.5_s{seed}', 'gcfsr', 0.5, seed, 25.0 + seed, 50.0, gcfsr_sets)
    add('g_omgd_w0.5_s0', 'gcfsr', 0.5, 0, 24.0, 50.0, gcfsr_sets)  # one seed only
    return out


def read_csv(path):
    with open(path) as handle:
        return list(csv.reader(handle))


def test_tables_show_mean_std_and_seed_counts(folders, tmp_path):
    out = str(tmp_path / 'tables')
    text = make_tables(folders + ['--out', out])
    assert {'tables.md', 't1_gcfsr.csv', 't2_realesrgan.csv', 't3_ablations.csv', 't4_efficiency.csv',
            'quality_latency_realesrgan.png', 'quality_latency_gcfsr.png'} <= set(os.listdir(out))

    t2 = read_csv(os.path.join(out, 't2_realesrgan.csv'))
    header, rows = t2[0], {r[0]: r for r in t2[1:]}
    assert header[:4] == ['method', 'seeds', 'iters', 'PSNR ↑']
    assert rows['SDAKD @ 0.25'][1:4] == ['3', '120', '21.25 ± 1.00']  # seeds 20.25, 21.25, 22.25
    assert rows['no KD (teacher recipe) @ 0.125'][3] == '20.00 ± 1.00'
    assert rows['teacher'][3] == '30.00' and rows['bicubic'][3] == '20.00'
    assert rows['KD vs full-width D (from scratch) @ 0.125'][3] == '19.00 ± 0.00'
    assert rows['SDAKD @ 0.25'][header.index('LPIPS ↓')] == '–'  # unavailable: no backbone weights
    assert rows['SDAKD @ 0.25'][header.index('SSIM ↑')] == '0.5000 ± 0.0000'
    assert rows['SDAKD @ 0.25'][header.index('FID ↓')] == '41.00 ± 1.00'
    assert not any('without feature KD' in r for r in rows)  # ablations go to T3 only
    order = [r[0] for r in t2[1:]]
    assert order.index('SDAKD @ 0.25') < order.index('SDAKD @ 0.125')  # widest first

    t1 = read_csv(os.path.join(out, 't1_gcfsr.csv'))
    assert t1[0][3:9] == ['x8 FID ↓', 'x8 LPIPS ↓', 'x8 PSNR ↑', 'x16 FID ↓', 'x16 LPIPS ↓', 'x16 PSNR ↑']
    gcfsr = {r[0]: r for r in t1[1:]}
    assert gcfsr['SDAKD @ 0.5'][5] == '26.00 ± 1.00' and gcfsr['SDAKD @ 0.5'][8] == '23.00 ± 1.00'
    assert gcfsr['OMGD-like (no D) @ 0.5'][1] == '1' and gcfsr['OMGD-like (no D) @ 0.5'][5] == '24.00'

    t3 = read_csv(os.path.join(out, 't3_ablations.csv'))
    assert [r[1] for r in t3[1:]] == ['SDAKD @ 0.125', 'SDAKD without feature KD @ 0.125']

    t4 = {(r[0], r[1]): r for r in read_csv(os.path.join(out, 't4_efficiency.csv'))[1:]}
    assert t4[('realesrgan', 'teacher')][6] == '1.00'
    assert t4[('realesrgan', 'SDAKD @ 0.125')][5:8] == ['11.0 ± 1.0', '9.14 ± 0.83', '3']  # 100/10, 100/11, 100/12
    assert t4[('realesrgan', 'SDAKD @ 0.125')][3] == '0.12 M'

    assert 'full-width D (from scratch)' in text and 'alexnet-owt-7be5be79.pth' in text
    with open(os.path.join(out, 'quality_latency_realesrgan.png'), 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'


def test_a_folder_without_evaluation_is_a_clear_error(tmp_path):
    (tmp_path / 'exp').mkdir()
    with pytest.raises(FileNotFoundError, match='sdakd_basicsr.metrics.evaluate'):
        make_tables([str(tmp_path / 'exp'), '--out', str(tmp_path / 'out')])
