"""The GPU check's plumbing, run on the CPU (``--dry-run``): every check runs at the smallest size."""
import os
import subprocess

import pytest
import torch

from helpers import REPO_ROOT
from sdakd_basicsr import gpu_check


def rows_of(table):
    return [line for line in table.splitlines() if line.startswith('| ') and not line.startswith(('| check', '| ---'))]


def test_dry_run_of_the_inference_checks(tmp_path):
    out = tmp_path / 'dry.md'
    assert gpu_check.main(['--dry-run', '--only', 'tiling', 'gcfsr', '--out', str(out)]) == 0
    table = out.read_text()
    assert 'dry run on the CPU' in table and 'bash scripts/gpu_check.sh --dry-run' in table
    rows = rows_of(table)
    assert len(rows) == 3 and all(row.endswith('| yes |') for row in rows)
    assert 'tiled' in rows[0] and 'GCFSR forward, float16' in rows[1] and 'bfloat16' in rows[2]


def test_without_a_gpu_the_real_check_refuses_and_names_the_dry_run(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='--dry-run'):
        gpu_check.main(['--out', str(tmp_path / 'x.md')])


def test_a_failing_check_is_a_row_and_the_exit_status(tmp_path):
    out = tmp_path / 'dry.md'  # a GCFSR of 63 px (not a power of two) cannot be built: the check fails
    assert gpu_check.main(['--dry-run', '--only', 'gcfsr', '--set', 'gcfsr_size=63', '--out', str(out)]) == 1
    assert '| gcfsr |  | FAILED: ' in out.read_text()


@pytest.mark.slow
def test_the_script_dry_run_runs_the_training_checks(tmp_path):
    """The demo and full-scale checks, through the shell wrapper; they share one copy of the demo data.

    test_dry_run_of_the_inference_checks runs tiling and gcfsr through the same main, and
    test_distributed.py::test_resume_gives_every_rank_its_own_random_state_and_queue runs the torchrun check
    (check_torchrun, with two gloo processes), so that the suite runs its torchrun cut-and-resume once."""
    out, work = tmp_path / 'dry.md', tmp_path / 'work'
    assert set(gpu_check.CHECKS) == {'tiling', 'gcfsr', 'demo', 'torchrun', 'full_scale'}
    proc = subprocess.run(['bash', os.path.join(REPO_ROOT, 'scripts', 'gpu_check.sh'), '--dry-run', '--out', str(out),
                           '--work', str(work), '--only', 'demo', 'full_scale'],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = rows_of(out.read_text())
    for expected in ('demo --gpu recipe, stage supervised', 'stage distill', 'stage adversarial',
                     'full-scale options/sdakd_'):
        assert any(expected in row for row in rows), expected
    assert all(row.endswith('| yes |') for row in rows)
    if not os.path.isfile(os.path.join(REPO_ROOT, 'datasets', 'demo', 'train', 'meta_info.txt')):  # else that one
        made = sorted(p.relative_to(work) for p in work.rglob('meta_info.txt'))
        assert [str(p) for p in made] == [os.path.join('demo_data', 'train', 'meta_info.txt')]
