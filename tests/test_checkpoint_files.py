"""Checkpoint files: a full disk leaves the previous checkpoint intact and says so; auto-resume never picks a
state that cannot be read or whose network files are missing; ``logger.keep_last_states`` prunes safely."""
import errno
import os

import pytest
import torch

import sdakd_basicsr  # noqa: F401
from sdakd_basicsr import compat
from sdakd_basicsr.compat import load_resume_state
from sdakd_basicsr.utils import checkpoint
from sdakd_basicsr.utils.checkpoint import (atomic_torch_save, check_keep_options, find_resume_state,
                                            prune_checkpoints)


def experiment(tmp_path, iters, nets=('g', 'd'), **logger_opt):
    """A fake experiment folder with a state and network files for each iteration in ``iters``."""
    paths = {'training_states': str(tmp_path / 'training_states'), 'models': str(tmp_path / 'models'),
             'experiments_root': str(tmp_path)}
    for it in iters:
        files = [f'net_{label}_{it}.pth' for label in nets]
        for name in files:
            atomic_torch_save({'params': {'w': torch.full((2, ), float(it))}}, os.path.join(paths['models'], name))
        atomic_torch_save({'iter': it, 'epoch': 0, 'network_files': files},
                          os.path.join(paths['training_states'], f'{it}.state'))
    return {'path': paths, 'logger': logger_opt, 'name': 'x'}


def load(path):
    return torch.load(path, weights_only=False)


def test_disk_full_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = str(tmp_path / 'net_g_5.pth')
    atomic_torch_save({'params': {'w': torch.ones(3)}}, target)
    before = open(target, 'rb').read()

    def full_disk(obj, handle):
        handle.write(b'PK\x03\x04' + b'\0' * 100)  # part of the file reached the disk, then the device was full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.torch, 'save', full_disk)
    with pytest.raises(OSError) as info:
        atomic_torch_save({'params': {'w': torch.zeros(3)}}, target)
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert 'No space left on device while writing' in message and target in message
    assert 'checkpoints saved before it are intact' in message and 'keep_last_states' in message
    assert open(target, 'rb').read() == before
    assert os.listdir(tmp_path) == ['net_g_5.pth']  # no temporary file left behind


def test_auto_resume_skips_states_without_their_network_files(tmp_path):
    opt = experiment(tmp_path, [1, 2, 3])
    os.remove(os.path.join(opt['path']['models'], 'net_d_3.pth'))  # the state of 3 is there, one of its nets not
    with open(os.path.join(opt['path']['models'], 'net_g_2.pth'), 'r+b') as handle:
        handle.truncate(40)  # and the generator of 2 is cut short
    warnings = []
    path, state = find_resume_state(opt['path']['training_states'], opt['path']['models'], load, warnings.append)
    assert state['iter'] == 1 and path.endswith('1.state')
    assert "['net_d_3.pth'] are missing" in warnings[0] and "['net_g_2.pth'] are missing or incomplete" in warnings[1]


def test_auto_resume_skips_an_unreadable_state(tmp_path):
    opt = experiment(tmp_path, [1, 2])
    with open(os.path.join(opt['path']['training_states'], '2.state'), 'wb') as handle:
        handle.write(b'PK\x03\x04 half of a state')
    warnings = []
    path, state = find_resume_state(opt['path']['training_states'], opt['path']['models'], load, warnings.append)
    assert state['iter'] == 1 and 'cannot be read' in warnings[0]


def test_basicsr_entry_resumes_from_the_newest_complete_state(tmp_path):
    opt = experiment(tmp_path, [4, 8])
    os.remove(os.path.join(opt['path']['models'], 'net_g_8.pth'))
    opt.update(model_type='SDAKDModel', auto_resume=True)
    opt['path']['resume_state'] = None
    state = load_resume_state(opt)
    compat._pending_resume.clear()
    assert state['iter'] == 4 and opt['path']['resume_state'].endswith('4.state')


@pytest.mark.parametrize('prune_models', [False, True])
def test_keep_last_states(tmp_path, prune_models):
    opt = experiment(tmp_path, [10, 20, 30, 40], keep_last_states=2, prune_models=prune_models)
    models = opt['path']['models']
    atomic_torch_save({}, os.path.join(models, 'net_g_latest.pth'))
    atomic_torch_save({}, os.path.join(models, 'net_g_50.pth'))  # a save killed before its state was written
    open(os.path.join(models, '.tmp_abc.pth'), 'wb').close()  # a temporary file of a killed save
    prune_checkpoints(opt)
    assert sorted(os.listdir(opt['path']['training_states'])) == ['30.state', '40.state']
    left = sorted(os.listdir(models))
    if prune_models:
        assert left == ['net_d_30.pth', 'net_d_40.pth', 'net_g_30.pth', 'net_g_40.pth', 'net_g_50.pth',
                        'net_g_latest.pth']
    else:
        assert len(left) == 4 * 2 + 2 and '.tmp_abc.pth' not in left


@pytest.mark.parametrize('value', [0, -1, 'two', True, 1.5])
def test_keep_last_states_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match='logger.keep_last_states'):
        check_keep_options({'logger': {'keep_last_states': value}})
    check_keep_options({'logger': {'keep_last_states': 2, 'prune_models': True}})
    with pytest.raises(ValueError, match='logger.prune_models'):
        check_keep_options({'logger': {'prune_models': 'yes'}})


def test_full_scale_option_files_keep_the_last_two_states():
    import glob

    from helpers import REPO_ROOT, load_yaml
    full_scale = [p for p in glob.glob(os.path.join(REPO_ROOT, 'options', '**', '*.yml'), recursive=True)
                  if int(float(load_yaml(p).get('train', {}).get('total_iter', 0))) >= 100000]
    assert len(full_scale) >= 20
    for path in full_scale:
        opt = load_yaml(path)
        check_keep_options(opt)
        assert opt['logger'].get('keep_last_states') == 2, path
