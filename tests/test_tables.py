"""The table command on fixture experiment folders (hand-written evaluation JSON, several seeds, both families)."""
import csv
import json
import os
import runpy

import pytest

from helpers import REPO_ROOT

TABLES = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'make_tables.py'))


def write_result(root, name, family, width, seed, psnr, student_ms, sets, method_rows=None):
    """A results.json as scripts/evaluate.py writes it (only the fields the tables read)."""
    rows = []
    for set_name, factor in sets:
        shift = 0 if factor in (4, 8) else -3  # harder factor, lower PSNR
        for row, value in (('student', psnr + shift), ('teacher', 30.0 + shift), ('bicubic', 20.0 + shift)):
            rows.append(dict(row=row, set=set_name, factor=factor, n_images=2, psnr=value, ssim=0.5, lpips=None,
                             niqe=None, fid=40.0 + seed))
    result = dict(experiment=name, name=name, family=family, width=width, d_width=width, seed=seed, total_iter=120,
                  sets=[dict(name=s, factor=f, n_images=2) for s, f in sets], rows=rows,
                  metrics_status={'psnr': 'ok', 'ssim': 'ok', 'niqe': 'ok', 'fid': 'ok',
                                  'lpips': 'unavailable: LPIPS (alex): weight file alexnet-owt-7be5be79.pth not found'},
                  efficiency={'student': dict(params=int(1e6 * width), macs=int(2e9 * width),
                                              input_shape=[1, 3, 64, 64], latency_ms=student_ms),
                              'teacher': dict(params=int(16e6), macs=int(3e10), input_shape=[1, 3, 64, 64],
                                              latency_ms=100.0)},
                  environment=dict(cpu='test cpu', device='cpu', torch_threads=2))
    folder = os.path.join(root, name, 'evaluation')
    os.makedirs(folder)
    with open(os.path.join(folder, 'results.json'), 'w') as handle:
        json.dump(result, handle)
    return os.path.dirname(folder)


@pytest.fixture
def folders(tmp_path):
    root, out = str(tmp_path), []
    realesrgan_set, gcfsr_sets = [('val_realesrgan_seed0', 4)], [('faces', 8), ('faces', 16)]
    for seed, psnr in enumerate((20.0, 21.0, 22.0)):
        for width, ms in ((0.25, 20.0), (0.125, 10.0)):
            out.append(write_result(root, f'cmp_sdakd_w{width}_s{seed}', 'realesrgan', width, seed, psnr + width,
                                    ms + seed, realesrgan_set))
            out.append(write_result(root, f'cmp_no_kd_w{width}_s{seed}', 'realesrgan', width, seed, psnr - 1,
                                    ms + seed, realesrgan_set))
        out.append(write_result(root, f'cmp_teacher_d_scratch_w0.125_s{seed}', 'realesrgan', 0.125, seed, 19.0,
                                12.0, realesrgan_set))
        out.append(write_result(root, f'abl_no_feature_kd_w0.125_s{seed}', 'realesrgan', 0.125, seed, 18.0, 10.0,
                                realesrgan_set))
        out.append(write_result(root, f'g_sdakd_w0.5_s{seed}', 'gcfsr', 0.5, seed, 25.0 + seed, 50.0, gcfsr_sets))
    out.append(write_result(root, 'g_omgd_w0.5_s0', 'gcfsr', 0.5, 0, 24.0, 50.0, gcfsr_sets))  # one seed only
    return out


def read_csv(path):
    with open(path) as handle:
        return list(csv.reader(handle))


def test_tables_show_mean_std_and_seed_counts(folders, tmp_path):
    out = str(tmp_path / 'tables')
    text = TABLES['main'](folders + ['--out', out])
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
    with pytest.raises(FileNotFoundError, match='scripts/evaluate.py'):
        TABLES['main']([str(tmp_path / 'exp'), '--out', str(tmp_path / 'out')])
