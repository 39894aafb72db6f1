"""python -m sdakd_basicsr.benchmarks.student_step: the student's step and Adam's implementations, timed.

Timings are never asserted (the numbers depend on the machine and its load); torch.compile is skipped here.
"""
import json
import os

import pytest

from helpers import REPO_ROOT
from sdakd_basicsr.benchmarks import student_step
from test_benchmark_inference import one_thread  # noqa: F401  (fixture)

TINY_GCFSR_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_gcfsr_tiny.yml')
DEMO_YML = os.path.join(REPO_ROOT, 'options', 'demo', 'sdakd_realesrgan_x4plus_demo.yml')


def test_times_the_demo_student_and_each_adam(tmp_path, capsys, one_thread):  # noqa: F811
    out = tmp_path / 'step.json'
    student_step.main(['-opt', DEMO_YML, '--no-compile', '--repeats', '1',
                       '--batch', '1', '--json', str(out)])
    result = json.loads(out.read_text())
    assert result['network_g'] == 'RRDBNetBicubicSkip' and result['lq_size'] == 32 and result['batch'] == 1
    assert 1.0 < result['params_m'] < 1.1  # the 1/4-width student, not the teacher's 16.7 M
    assert all(result[key] > 0 for key in ('eager_s', 'adam_default_s', 'adam_foreach_s', 'adam_fused_s'))
    assert 'compiled_s' not in result
    assert '| Adam step alone, fused |' in capsys.readouterr().out


def test_refuses_a_family_without_lr_patches():
    with pytest.raises(SystemExit, match="sdakd.family 'gcfsr'"):
        student_step.main(['-opt', TINY_GCFSR_YML, '--no-compile'])


def test_a_failing_compile_is_reported_and_the_rest_still_timed(tmp_path, monkeypatch, one_thread):  # noqa: F811
    def no_compiler(net):
        def forward(x):
            raise RuntimeError('no C++ compiler found\nmore detail')
        return forward
    monkeypatch.setattr(student_step.torch, 'compile', no_compiler)
    out = tmp_path / 'step.json'
    student_step.main(['-opt', DEMO_YML, '--repeats', '1', '--batch', '1', '--json', str(out)])
    result = json.loads(out.read_text())
    assert result['errors'] == {'compiled': 'RuntimeError: no C++ compiler found'}
    assert result['eager_s'] > 0 and 'compiled_s' not in result and 'compile_and_first_step_s' not in result


def test_use_compile_cache_points_inductor_at_a_fresh_or_a_given_folder(tmp_path, monkeypatch):
    from sdakd_basicsr.utils.profiling import use_compile_cache
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', 'unchanged')  # restored after the test
    cache, warm = use_compile_cache()
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == cache and os.listdir(cache) == [] and not warm
    given = tmp_path / 'cache'
    assert use_compile_cache(str(given)) == (str(given), False)  # not there yet: cold
    given.mkdir()
    (given / 'fxgraph').mkdir()
    assert use_compile_cache(str(given)) == (str(given), True)
    assert os.environ['TORCHINDUCTOR_CACHE_DIR'] == str(given)
