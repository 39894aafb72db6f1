"""Smoke test of scripts/benchmark_speed.py with a tiny teacher: tables, MAC counts, training steps, peak RSS.

Timings are never asserted (the numbers depend on the machine and its load).
"""
import importlib.util
import json
import os
import sys

import pytest
import torch
from helpers import REPO_ROOT

TINY = ['--num-block', '1', '--num-feat', '16', '--num-grow-ch', '8', '--d-num-feat', '16']


@pytest.fixture(scope='module')
def bench():
    """The script as a module (scripts/ is not a package)."""
    path = os.path.join(REPO_ROOT, 'scripts', 'benchmark_speed.py')
    spec = importlib.util.spec_from_file_location('benchmark_speed', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy machine, threads waiting for each other make tiny convs 30x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_inference_table_has_every_width_and_consistent_macs(bench):
    args = bench.parse_args(TINY + ['--sizes', '16', '24', '--warmup', '0', '--repeats', '1'])
    result = bench.benchmark_inference(args)
    table = bench.format_inference(result)
    for width in ('1/2', '1/4', '1/8'):
        assert f'student {width}' in table
    assert table.count('| teacher |') == 2  # one table per input size

    rows = result['rows']
    assert len(rows) == 2 * 4
    for size in (16, 24):
        by_width = {row['width']: row for row in rows if row['input'] == [1, 3, size, size]}
        teacher = by_width['1']
        assert teacher['num_feat'] == 16 and teacher['num_block'] == 1
        # students come from the family adapter: channels scale with the width
        assert [by_width[w]['num_feat'] for w in ('1/2', '1/4', '1/8')] == [8, 4, 2]
        macs = [by_width[w]['macs'] for w in ('1', '1/2', '1/4', '1/8')]
        assert all(m > 0 for m in macs) and macs == sorted(macs, reverse=True)
        # every conv scales with width² except conv_first / conv_last (width¹): just under 4
        assert 3 < by_width['1/2']['mac_ratio'] < 4.1
        assert by_width['1/2']['params'] < teacher['params']
        for row in by_width.values():
            assert row['error'] is None and len(row['latencies_ms']) == 1
    # MACs grow with the number of input pixels
    mac_16 = next(r['macs'] for r in rows if r['model'] == 'teacher' and r['input'][-1] == 16)
    mac_24 = next(r['macs'] for r in rows if r['model'] == 'teacher' and r['input'][-1] == 24)
    assert mac_24 == pytest.approx(mac_16 * (24 / 16) ** 2, rel=0.01)


def test_training_steps_of_every_stage_and_json(bench, tmp_path, capsys):
    out = tmp_path / 'speed.json'
    bench.main(TINY + ['--parts', 'training', '--train-num-block', '1', '--train-patch', '8',
                       '--train-batch', '1', '--train-warmup', '0', '--train-repeats', '1', '--json', str(out)])
    printed = capsys.readouterr().out
    for step in ('plain', 'plain_no_teacher', 'stage1', 'stage2', 'stage3'):
        assert f'| {step} |' in printed
    assert 'num_block=1' in printed and 'Name UNetDiscriminatorSN' not in printed
    result = json.loads(out.read_text())
    rows = {row['step']: row for row in result['training']['rows']}
    assert all(len(row['times_s']) == 1 for row in rows.values())
    assert isinstance(rows['stage3']['overhead_pct'], float)
    config = result['training']['config']
    assert config['network_g']['num_feat'] == 8 and config['network_d']['num_feat'] == 8
    assert config['distill_layers'] == ['body.0', 'conv_body']


def test_peak_rss_of_a_command(bench):
    # the child holds 64 MiB of touched memory, so its peak RSS must exceed that
    code = 'x = bytearray(64 * 2**20); import sys; sys.exit(3)'
    result = bench.peak_rss_of([sys.executable, '-c', code])
    assert result['returncode'] == 3
    assert 64 < result['peak_rss_mib'] < 1024
    args = bench.parse_args(['--peak-rss-of', sys.executable, '-c', 'pass'])
    assert args.peak_rss_of == [sys.executable, '-c', 'pass']
