"""python -m sdakd_basicsr.benchmarks.peak_memory and sdakd_basicsr.utils.profiling.peak_rss_of."""
import json
import sys

from sdakd_basicsr.benchmarks import peak_memory
from sdakd_basicsr.utils.profiling import peak_rss_of


def test_peak_rss_of_a_command():
    # the child holds 64 MiB of touched memory, so its peak RSS must exceed that
    result = peak_rss_of([sys.executable, '-c', 'x = bytearray(64 * 2**20); import sys; sys.exit(3)'])
    assert result['returncode'] == 3
    assert 64 < result['peak_rss_mib'] < 1024


def test_script_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / 'rss.json'
    result = peak_memory.main(['--json', str(out), '--', sys.executable, '-c', 'pass'])
    assert result['returncode'] == 0 and '| Peak RSS (MiB)' in capsys.readouterr().out
    assert json.loads(out.read_text())['command'] == [sys.executable, '-c', 'pass']
