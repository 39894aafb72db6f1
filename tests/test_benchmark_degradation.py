"""python -m sdakd_basicsr.benchmarks.degradation on the tiny Real-ESRGAN data: whole tiles against crops.

Timings are never asserted (the numbers depend on the machine and its load).
"""
import json

from helpers import TINY_REALESRGAN_YML, write_tiny_realesrgan_data
from sdakd_basicsr.benchmarks import degradation
from sdakd_basicsr.data.realesrgan_synthesis import smallest_degrade_crop
from sdakd_basicsr.utils.options import load_options
from test_benchmark_inference import one_thread  # noqa: F401  (fixture)


def test_times_whole_tiles_and_each_crop_on_real_batches(tmp_path, capsys, monkeypatch, one_thread):  # noqa: F811
    write_tiny_realesrgan_data(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / 'degradation.json'
    degradation.main(['-opt', TINY_REALESRGAN_YML, '--repeats', '1', '--warmup', '0', '--json', str(out)])
    result = json.loads(out.read_text())
    least = smallest_degrade_crop(load_options(TINY_REALESRGAN_YML))
    assert [row['setting'] for row in result['rows']] == ['whole tiles', f'degrade_crop_size {least}']
    assert result['batch'][2:] == [400, 400]  # RealESRGANDataset pads the tiles to 400 px, as in training
    assert not result['errors'] and all(row['median_s'] > 0 for row in result['rows'])
    assert '| whole tiles |' in capsys.readouterr().out
