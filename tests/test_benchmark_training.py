"""python -m sdakd_basicsr.benchmarks.training with tiny teachers of both families: the real SDAKDModel step per stage.

Timings are never asserted (the numbers depend on the machine and its load).
"""
import json

import pytest

from test_benchmark_inference import one_thread  # noqa: F401  (fixture)

QUICK = ['--batch', '1', '--warmup', '0', '--repeats', '1']


@pytest.fixture(scope='module')
def bench():
    from sdakd_basicsr.benchmarks import training
    return training


@pytest.mark.parametrize('family, extra, taps, perceptual', [
    ('realesrgan', ['--set', 'num_block=1', 'num_feat=16', 'num_grow_ch=8', '--set-d', 'num_feat=16', '--patch', '8'],
     ['body.0', 'conv_body'], 'auto'),
    ('gcfsr', ['--set', 'out_size=64', 'narrow=0.25', '--set-d', 'out_size=64', 'narrow=0.25'],
     ['style_conv1', 'style_convs.1', 'style_convs.3'], 'off'),
])
def test_every_stage_and_the_reference_run_the_real_model(bench, tmp_path, capsys, monkeypatch, family, extra,
                                                          taps, perceptual):
    monkeypatch.chdir(tmp_path)  # no VGG file here: auto falls back to a random-weight VGG, and says so
    out = tmp_path / 'training.json'
    bench.main(['--family', family, '--perceptual', perceptual] + extra + QUICK + ['--json', str(out)])
    printed = capsys.readouterr().out
    steps = ('reference', 'teacher_forward', 'supervised', 'distill', 'adversarial', 'no_kd_gan')
    for step in steps:
        assert f'| {step} |' in printed
    assert ('random-weight vgg19' if perceptual == 'auto' else 'perceptual loss dropped') in printed
    assert 'Name UNetDiscriminatorSN' not in printed
    result = json.loads(out.read_text())
    rows = {row['step']: row for row in result['rows']}
    assert sorted(rows) == sorted(steps) and all(len(row['times_s']) == 1 for row in rows.values())
    assert isinstance(rows['adversarial']['overhead_pct'], float) and rows['reference']['overhead_pct'] is None
    assert 'no_kd_gan' in rows['reference']['description']
    assert ('perceptual×1' in rows['no_kd_gan']['description']) == (perceptual == 'auto')
    assert 'gan×1' in rows['no_kd_gan']['description'] and 'distill' not in rows['no_kd_gan']['description']
    config = result['config']
    assert config['distill_layers'] == taps and config['last_sdakd_stage'] == 'adversarial'
    assert config['params']['student_g'] < config['params']['teacher_g'] and config['params']['feature_adapters'] > 0


def test_perceptual_file_without_the_vgg_file_names_it(bench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match='vgg19-dcbb9e9d.pth'):
        bench.main(['--set', 'num_block=1', '--perceptual', 'file'] + QUICK)
