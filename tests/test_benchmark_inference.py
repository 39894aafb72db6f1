"""python -m sdakd_basicsr.benchmarks.inference on tiny teachers of both families: tables, MACs, student widths.

Timings are never asserted (the numbers depend on the machine and its load).
"""
import pytest
import torch


TINY_RRDB = ['--set', 'num_block=1', 'num_feat=16', 'num_grow_ch=8', '--set-d', 'num_feat=16']
TINY_GCFSR = ['--family', 'gcfsr', '--set', 'out_size=64', 'narrow=0.25', '--set-d', 'out_size=64', 'narrow=0.25']
QUICK = ['--warmup', '0', '--repeats', '1']


@pytest.fixture(scope='module')
def bench():
    from sdakd_basicsr.benchmarks import inference
    return inference


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy machine, threads waiting for each other make tiny convs 30x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_realesrgan_table_has_every_width_and_consistent_macs(bench):
    result = bench.benchmark(bench.parse_args(TINY_RRDB + QUICK + ['--sizes', '16', '24']))
    table = bench.format_markdown(result)
    for width in ('1/2', '1/4', '1/8'):
        assert f'| student {width} |' in table
    assert table.count('| teacher |') == 2  # one table per input size
    assert 'sdakd_realesrgan_x4plus.yml' in table

    rows = result['rows']
    assert len(rows) == 2 * 4
    for size in (16, 24):
        by_width = {row['width']: row for row in rows if row['input'] == f'1×3×{size}×{size}'}
        assert by_width['1']['options']['num_feat'] == 16 and by_width['1']['options']['num_block'] == 1
        # students come from the family adapter: channels scale with the width
        assert [by_width[w]['options']['num_feat'] for w in ('1/2', '1/4', '1/8')] == [8, 4, 2]
        macs = [by_width[w]['macs'] for w in ('1', '1/2', '1/4', '1/8')]
        assert all(m > 0 for m in macs) and macs == sorted(macs, reverse=True)
        # every conv scales with width² except conv_first / conv_last (width¹): just under 4
        assert 3 < by_width['1/2']['mac_ratio'] < 4.1
        for row in by_width.values():
            assert row['error'] is None and len(row['latencies_ms']) == 1
    mac_16, mac_24 = (next(r['macs'] for r in rows if r['width'] == '1' and r['input'] == f'1×3×{s}×{s}')
                      for s in (16, 24))
    assert mac_24 == pytest.approx(mac_16 * (24 / 16) ** 2, rel=0.01)


def test_gcfsr_generators_and_discriminators_at_every_width(bench, tmp_path):
    out = tmp_path / 'gcfsr.json'
    result = bench.main(TINY_GCFSR + QUICK + ['--discriminator', '--json', str(out)])
    rows = result['rows']
    assert [r['model'] for r in rows] == ['teacher', 'student 1/2', 'student 1/4', 'student 1/8',
                                          'teacher D', 'student D 1/2', 'student D 1/4', 'student D 1/8']
    assert {r['input'] for r in rows} == {'1×3×64×64'}
    generators = [r for r in rows if r['role'] == 'G']
    assert [r['options']['narrow'] for r in generators] == [0.25, 0.125, 0.0625, 0.03125]
    assert [r['options']['num_style_feat'] for r in generators] == [512, 256, 128, 64]
    for role in ('G', 'D'):
        params = [r['params'] for r in rows if r['role'] == role]
        assert params == sorted(params, reverse=True) and all(r['error'] is None for r in rows)
    assert out.read_text().startswith('{')


def test_channels_last_variant_times_every_model(bench):
    result = bench.benchmark(bench.parse_args(TINY_RRDB + QUICK + ['--sizes', '16', '--channels-last']))
    assert sorted({r['variant'] for r in result['rows']}) == ['channels_last', 'eager']
    assert all(r['latency_ms'] is not None for r in result['rows'])
