"""python -m sdakd_basicsr.benchmarks.stages through BasicSR's real training loop on the tiny Real-ESRGAN run.

Timings are never asserted (the numbers depend on the machine and its load); what each stage runs is.
"""
import json

from helpers import TINY_REALESRGAN_YML, prepare_tiny_realesrgan_run
from sdakd_basicsr.benchmarks import stages
from sdakd_basicsr.utils.options import load_options, write_options
from test_benchmark_inference import one_thread  # noqa: F401  (fixture)


def test_each_stage_is_split_into_the_parts_it_runs(tmp_path, capsys, monkeypatch, one_thread):  # noqa: F811
    prepare_tiny_realesrgan_run(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    channels_last = load_options(TINY_REALESRGAN_YML)
    channels_last['train']['channels_last'] = True
    write_options(channels_last, str(tmp_path / 'channels_last.yml'))
    out = tmp_path / 'stages.json'
    stages.main(['-opt', TINY_REALESRGAN_YML, str(tmp_path / 'channels_last.yml'), '--iters', '4', '--skip', '1',
                 '--json', str(out)])
    files = json.loads(out.read_text())['files']
    assert len(files) == 2
    for result in files:
        rows = {row['stage']: row for row in result['stages']}
        assert list(rows) == ['supervised', 'distill', 'adversarial']
        for name, row in rows.items():
            parts = row['parts']
            assert set(parts) == set(stages.PARTS) and row['iters_timed'] == 2
            assert parts['degradation'] > 0 and parts['student_g'] > 0 and parts['ema'] > 0
            assert (parts['teacher'] > 0) == (name != 'supervised')  # stage 1 never runs the teacher
            assert (parts['discriminator'] > 0) == (name != 'supervised')
            assert abs(row['s_per_iter'] - sum(parts.values())) < 1e-9
        assert result['validation_s'] > 0
    printed = capsys.readouterr().out
    assert '| sdakd_realesrgan_tiny.yml | supervised |' in printed and '| channels_last.yml | adversarial |' in printed
