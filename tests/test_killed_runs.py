"""A tiny real run (Real-ESRGAN data path, three stages) killed with SIGKILL again and again, at random moments and
in the middle of checkpoint writes, continued each time with ``--auto_resume``: it always continues, never from a
half-written file, and ends with the weights of an uninterrupted run (bit-exact on CPU). Only the last two
training states are kept (``logger.keep_last_states: 2``, ``logger.prune_models: true``), so pruning is under
the same test. A few kills in the quick suite, 50 in the slow one."""
import glob
import os
import random

import pytest
import torch

from helpers import TINY_REALESRGAN_YML, prepare_tiny_realesrgan_run
from kill_driver import train_until_done

EXP = 'sdakd_realesrgan_tiny'


def argv(total):
    third = total // 3
    stages = [dict(name='supervised', iters=third, losses=['pixel']),
              dict(name='distill', iters=third, losses=['pixel', 'distill'], train_d='student'),
              dict(name='adversarial', iters=total - 2 * third, losses=['pixel', 'distill', 'gan'], train_d='student')]
    return ['-opt', TINY_REALESRGAN_YML, '--auto_resume', '--force_yml', 'logger:save_checkpoint_freq=1',
            'logger:keep_last_states=2', 'logger:prune_models=True', 'val:val_freq=5', f'train:total_iter={total}',
            f'train:stages={stages}']


def final_weights(root, total):
    models = os.path.join(root, 'experiments', EXP, 'models')
    return {name: torch.load(os.path.join(models, name), map_location='cpu')
            for name in ('net_g_latest.pth', f'net_d_{total}.pth', f'net_feat_adapters_{total}.pth')}


def run_killed(tmp_path, total, kills, delay_iters, seed):
    """The uninterrupted run, then the killed one; a kill from outside comes at most ``delay_iters`` times the
    uninterrupted run's time per iteration (start-up included) after a start, so that the run is still going
    after ``kills`` kills on fast and slow machines alike."""
    reference_root, killed_root = str(tmp_path / 'uninterrupted'), str(tmp_path / 'killed')
    for root in (reference_root, killed_root):
        prepare_tiny_realesrgan_run(root)
    states = os.path.join(killed_root, 'experiments', EXP, 'training_states')
    done = train_until_done(reference_root, argv(total), random.Random(seed), 0, 0, states)
    assert done['attempts'] == 1
    max_delay = delay_iters * done['seconds'] / total
    result = train_until_done(killed_root, argv(total), random.Random(seed), kills, max_delay, states)
    reference, again = final_weights(reference_root, total), final_weights(killed_root, total)
    for name in reference:
        for key in reference[name]:
            for param, value in reference[name][key].items():
                assert torch.equal(again[name][key][param], value), f'{name}[{key}][{param}] differs'
    # only the last two states and their network files are left, and no temporary file of a killed save
    assert sorted(os.listdir(states)) == [f'{total - 1}.state', f'{total}.state']
    exp = os.path.join(killed_root, 'experiments', EXP)
    numbered = {os.path.basename(p).rsplit('_', 1)[1][:-4] for p in glob.glob(os.path.join(exp, 'models', '*.pth'))}
    assert numbered == {str(total - 1), str(total), 'latest'}
    assert not glob.glob(os.path.join(exp, '*', '.tmp_*'))
    logs = ''.join(open(p).read() for p in glob.glob(os.path.join(exp, 'train_*.log')))
    assert logs.count('Resuming training from') >= 1, result  # killed / attempts: was any attempt killed at all?
    return result


def test_a_few_kills(tmp_path):
    result = run_killed(tmp_path, total=6, kills=3, delay_iters=2.5, seed=1)
    print(f'survived {result["killed"]} SIGKILLs in {result["attempts"]} attempts')
    assert result['killed'] >= 2, result


@pytest.mark.slow
def test_fifty_kills(tmp_path):
    result = run_killed(tmp_path, total=40, kills=50, delay_iters=3, seed=2)
    print(f'survived {result["killed"]} SIGKILLs ({result["self_killed"]} during or right after a checkpoint '
          f'write) in {result["attempts"]} attempts, {result["seconds"]:.0f} s')
    assert result['killed'] >= 50, result
