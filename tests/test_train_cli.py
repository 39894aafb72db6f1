"""The literal user commands in a subprocess: `python -m basicsr.train` and `python -m sdakd_basicsr.train`.

One uninterrupted tiny run (all three stages, real Real-ESRGAN data path, checkpoint every iteration), then
the same experiment cut back to an earlier checkpoint and continued with --auto_resume: once in the middle
of a stage and of an epoch, once on a stage and epoch boundary. The continued run must log the same losses
and end with bit-identical weights.
"""
import glob
import os
import shutil
import sysconfig

import pytest
import torch

from helpers import TINY_REALESRGAN_YML, logged_losses, prepare_tiny_realesrgan_run, run_cli, run_clis
from sdakd_basicsr.gpu_check import cut_back_to

EXP = 'sdakd_realesrgan_tiny'


def read_logs(exp_dir):
    return {path: open(path).read() for path in sorted(glob.glob(os.path.join(exp_dir, 'train_*.log')))}


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cli'))
    prepare_tiny_realesrgan_run(root)
    teacher_file = os.path.join(root, 'experiments', 'pretrained_models', 'tiny_teacher_g.pth')
    teacher_bytes = open(teacher_file, 'rb').read()
    proc = run_cli(['-m', 'basicsr.train', '-opt', TINY_REALESRGAN_YML, '--force_yml', 'logger:save_checkpoint_freq=1'],
                   cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exp_dir = os.path.join(root, 'experiments', EXP)
    log = '\n'.join(read_logs(exp_dir).values())
    final = {name: torch.load(os.path.join(exp_dir, 'models', f'{name}_6.pth'))
             for name in ('net_g', 'net_d', 'net_feat_adapters')}
    return dict(root=root, exp_dir=exp_dir, log=log, losses=logged_losses(log), final=final,
                teacher_file=teacher_file, teacher_bytes=teacher_bytes)


@pytest.mark.slow
def test_literal_basicsr_train_runs_all_stages_under_the_working_directory(uninterrupted):
    root, log = uninterrupted['root'], uninterrupted['log']
    for stage, first in (("1/3 starts at iter 1: 'supervised'", 1), ("2/3 starts at iter 3: 'distill'", 3),
                         ("3/3 starts at iter 5: 'adversarial'", 5)):
        assert f'SDAKD stage {stage}' in log
    assert sorted(uninterrupted['losses']) == [1, 2, 3, 4, 5, 6]
    assert 'l_g_distill' not in uninterrupted['losses'][2] and 'l_g_distill' in uninterrupted['losses'][3]
    assert 'l_g_gan' not in uninterrupted['losses'][4] and 'l_g_gan' in uninterrupted['losses'][5]
    assert os.path.isdir(os.path.join(root, 'tb_logger', EXP))
    assert os.path.isfile(os.path.join(uninterrupted['exp_dir'], 'models', 'net_g_latest.pth'))
    site = sysconfig.get_paths()['purelib']
    assert not os.path.exists(os.path.join(site, 'experiments', EXP))
    assert not os.path.exists(os.path.join(site, 'tb_logger', EXP))
    # the frozen teacher is neither saved with the student nor touched
    assert not glob.glob(os.path.join(uninterrupted['exp_dir'], 'models', '*teacher*'))
    assert open(uninterrupted['teacher_file'], 'rb').read() == uninterrupted['teacher_bytes']
    assert '# psnr:' in log  # validation ran with BasicSR's metrics


RESUMES = [(3, 'basicsr.train'), (4, 'sdakd_basicsr.train')]


@pytest.fixture(scope='module')
def resumed(uninterrupted, tmp_path_factory):
    """Per ``(resume_from, entry)``: a private copy of the experiment cut back to ``resume_from``, continued with
    ``python -m <entry> --auto_resume``; both commands are started together (each a process of its own)."""
    commands, exp_dirs = [], []
    for resume_from, entry in RESUMES:
        root = str(tmp_path_factory.mktemp(f'resume_{resume_from}'))
        shutil.copytree(os.path.join(uninterrupted['root'], 'datasets'), os.path.join(root, 'datasets'))
        shutil.copytree(os.path.join(uninterrupted['root'], 'experiments'), os.path.join(root, 'experiments'))
        exp_dir = os.path.join(root, 'experiments', EXP)
        for path in glob.glob(os.path.join(exp_dir, 'train_*.log')):
            os.remove(path)
        cut_back_to(exp_dir, resume_from)
        exp_dirs.append(exp_dir)
        commands.append((['-m', entry, '-opt', TINY_REALESRGAN_YML, '--auto_resume', '--force_yml',
                          'logger:save_checkpoint_freq=1'], root))
    return dict(zip(RESUMES, zip(exp_dirs, run_clis(commands))))


@pytest.mark.slow
@pytest.mark.parametrize('resume_from, entry', RESUMES)
def test_auto_resume_continues_bit_identically(uninterrupted, resumed, resume_from, entry):
    exp_dir, proc = resumed[resume_from, entry]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = '\n'.join(read_logs(exp_dir).values())
    assert 'Resuming training from epoch' in log and f'iter: {resume_from}.' in log
    assert 'tiny_teacher_g.pth [params_ema]' in log  # the teacher still comes from the user's file
    resumed_losses = logged_losses(log)
    assert sorted(resumed_losses) == list(range(resume_from + 1, 7))
    for it in resumed_losses:
        assert resumed_losses[it] == uninterrupted['losses'][it], f'iter {it} differs after resume'
    for name, reference in uninterrupted['final'].items():
        again = torch.load(os.path.join(exp_dir, 'models', f'{name}_6.pth'))
        for key in reference:
            assert all(torch.equal(again[key][k], v) for k, v in reference[key].items()), f'{name}[{key}] differs'
