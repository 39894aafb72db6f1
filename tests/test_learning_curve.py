"""A run's learning curve: checkpoints scored against the teacher, training minutes across a cut and resume."""
import json
import os

from helpers import TINY_REALESRGAN_YML, prepare_tiny_realesrgan_run, save_random_teacher

from sdakd_basicsr.metrics import learning_curve
from sdakd_basicsr.utils.options import load_resolved_options

PREFIX = '[tiny..][epoch:  0, iter:'


def log_lines(stamps):
    """basicsr's log lines of the given ``(iteration, 'HH:MM:SS,mmm')``."""
    return '\n'.join(f'2026-12-02 10:{clock} INFO: {PREFIX}{iteration:>8,d}, lr:(1.000e-04,)] l_g_pix: 1.0'
                     for iteration, clock in stamps) + '\n'


def test_training_seconds_skip_the_pause_between_a_cut_and_its_resume():
    first = log_lines([(10, '00:10,000'), (20, '00:20,000'), (30, '00:32,000')])  # 1 s/iter, then 1.2
    # resumed from iteration 30 an hour later, 2 s/iter; the log repeats nothing before 30
    second = log_lines([(40, '59:00,000'), (50, '59:20,000'), (60, '59:40,000')])
    elapsed = learning_curve.training_seconds([first, second])
    # before a log's first logged iteration: that log's median rate (1.1 s/iter here)
    assert [round(elapsed[i], 6) for i in (10, 20, 30)] == [11.0, 21.0, 33.0]
    assert round(elapsed[40], 6) == 33.0 + 10 * 2.0  # not the hour between the cut and the resume
    assert round(elapsed[60], 6) == 93.0
    assert round(learning_curve.minutes_at(elapsed, 45), 6) == round((53.0 + 10.0) / 60, 6)
    assert learning_curve.minutes_at(elapsed, 61) is None


def test_every_numbered_checkpoint_is_scored_against_the_teacher(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepare_tiny_realesrgan_run(str(tmp_path))
    opt, _ = load_resolved_options(TINY_REALESRGAN_YML)
    exp_dir = os.path.join('experiments', opt['name'])
    for iteration, seed in ((3, 1), (6, 2)):
        save_random_teacher(os.path.join(exp_dir, 'models', f'net_g_{iteration}.pth'), opt['network_g'], seed=seed)
    save_random_teacher(os.path.join(exp_dir, 'models', 'net_g_latest.pth'), opt['network_g'], seed=2)
    with open(os.path.join(exp_dir, 'train_tiny_20261202_100000.log'), 'w') as handle:
        handle.write(log_lines([(1, '00:00,000'), (2, '00:03,000'), (3, '00:06,000'), (6, '00:15,000')]))
    curve = learning_curve.main([exp_dir, '-opt', TINY_REALESRGAN_YML, '--device', 'cpu'])
    assert [p['iteration'] for p in curve['points']] == [3, 6]  # net_g_latest is not a point of its own
    assert curve['points'][0]['minutes'] == 9.0 / 60 and curve['points'][1]['minutes'] == 18.0 / 60
    first, last = curve['points']
    assert first['psnr_teacher'] != last['psnr_teacher'] and first['psnr_teacher'] > 0
    assert first['niqe'] is None  # 64 px outputs: too small for NIQE
    assert curve['references']['bicubic']['psnr_teacher'] > 0 and 'psnr_teacher' not in curve['references']['teacher']
    saved = json.load(open(os.path.join(exp_dir, 'learning_curve', 'curve.json')))
    assert saved['points'] == curve['points']
    table = open(os.path.join(exp_dir, 'learning_curve', 'curve.md')).read()
    assert f'| 6 | 0.3 | {last["psnr_teacher"]:.2f} | {last["psnr_gt"]:.2f} |  | {last["colour"]:.1f} |' in table
