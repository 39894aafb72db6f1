"""Resume under changed options or a changed teacher file: refused with both values before any saved weights are
loaded, or (for the accepted changes) logged and continued; states from older versions warn and continue."""
import contextlib
import copy
import logging
import os

import pytest
import torch

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import TINY_REALESRGAN_YML, load_yaml, save_random_teacher, training_opt
from sdakd_basicsr.compat import load_resume_state
from sdakd_basicsr.utils.run_identity import ResumeMismatchError, compare_records, run_record


@pytest.fixture
def saved_run(tmp_path):
    """A tiny experiment saved at iter 1; returns a function giving fresh options for a resume."""
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    base = training_opt(opt, str(tmp_path), train_type='PairedImageDataset')
    model = build_model(copy.deepcopy(base))
    g = torch.Generator().manual_seed(0)
    model.feed_data({'lq': torch.rand(2, 3, 16, 16, generator=g), 'gt': torch.rand(2, 3, 64, 64, generator=g)})
    model.optimize_parameters(1)
    model.save(0, 1)
    state_path = os.path.join(base['path']['training_states'], '1.state')
    return base, state_path


@contextlib.contextmanager
def captured_log(caplog):
    """BasicSR's logger does not propagate: attach pytest's handler to it directly."""
    logger = logging.getLogger('basicsr')
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def resume(opt, state_path):
    """The resume path of BasicSR's train_pipeline: read the state, build the model, resume it."""
    opt = copy.deepcopy(opt)
    opt['path']['resume_state'] = state_path
    state = load_resume_state(opt)
    model = build_model(opt)
    model.resume_training(state)
    return model


@pytest.mark.parametrize('change, words', [
    (lambda o: o['sdakd'].update(width=0.25), ['sdakd.width: saved 0.5, now 0.25']),
    (lambda o: o.update(network_g=dict(o['network_g_teacher'], num_feat=4)), ['network_g.num_feat: saved 8, now 4']),
    (lambda o: o['network_g_teacher'].update(num_block=3), ['network_g_teacher.num_block: saved 2, now 3']),
    (lambda o: o['train']['distill_opt'].update(layers=['body.0', 'conv_body']),
     ["train.distill_opt.layers: saved ['body.0', 'body.1', 'conv_body'], now ['body.0', 'conv_body']"]),
    (lambda o: (o['train']['stages'][0].update(iters=3), o['train']['stages'][2].update(iters=1)),
     ['train.stages[0].iters: saved 2, now 3']),
    (lambda o: o['train']['stages'][1].update(losses=['pixel']), ['train.stages[1].losses']),
    (lambda o: o['sdakd'].update(family='srvgg'), ["sdakd.family: saved 'realesrgan', now 'srvgg'"]),
])
def test_changed_run_definition_is_refused_naming_each_option(saved_run, change, words, monkeypatch):
    opt, state_path = saved_run
    opt = copy.deepcopy(opt)
    change(opt)
    loaded = []
    monkeypatch.setattr(torch.nn.Module, 'load_state_dict',
                        lambda self, *a, **k: loaded.append(type(self).__name__) or torch.nn.modules.module.
                        _IncompatibleKeys([], []))
    with pytest.raises(ResumeMismatchError) as info:
        resume(opt, state_path)
    for word in words:
        assert word in str(info.value)
    assert 'net_g_1.pth' in str(info.value)
    assert loaded.count('RRDBNet') <= 1  # at most the teacher (from the user's file), nothing saved


def test_accepted_changes_are_logged_and_the_run_continues(saved_run, caplog):
    opt, state_path = saved_run
    opt = copy.deepcopy(opt)
    opt['train']['stages'][2]['iters'] = 5
    opt['train']['total_iter'] = 9
    opt['train']['optim_g']['lr'] = 5e-5
    opt['logger']['save_checkpoint_freq'] = 7
    opt['val']['val_freq'] = 2
    with captured_log(caplog):
        model = resume(opt, state_path)
    log = caplog.text
    for line in ('train.stages[2].iters: saved 2, now 5', 'train.total_iter: saved 6, now 9',
                 'train.optim_g.lr: saved 0.0001, now 5e-05', 'logger.save_checkpoint_freq: saved 3, now 7',
                 'val.val_freq: saved 3, now 2'):
        assert f'Resume with a changed option (accepted): {line}' in log
    assert model.stages[-1].last_iter == 9


def test_state_without_a_record_warns_and_continues(saved_run, caplog):
    opt, state_path = saved_run
    state = torch.load(state_path, weights_only=False)
    del state['run_record']
    torch.save(state, state_path)
    with captured_log(caplog):
        resume(opt, state_path)
    assert 'does not record the options' in caplog.text


def test_teacher_file_changed_under_the_experiment(saved_run):
    opt, state_path = saved_run
    teacher = opt['path']['pretrain_network_g_teacher']
    before = os.path.getsize(teacher)
    save_random_teacher(teacher, opt['network_g_teacher'], seed=1)  # same architecture, other weights
    with pytest.raises(ResumeMismatchError) as info:
        resume(opt, state_path)
    message = str(info.value)
    assert 'path.pretrain_network_g_teacher' in message and teacher in message
    assert f'saved: {before:,d} bytes, sha256 ' in message and 'now:' in message
    assert 'Put the original teacher file back' in message


def test_teacher_of_another_architecture_is_reported_as_changed_before_it_is_loaded(saved_run):
    opt, state_path = saved_run
    teacher = opt['path']['pretrain_network_g_teacher']
    save_random_teacher(teacher, dict(opt['network_g_teacher'], num_feat=24))
    opt = copy.deepcopy(opt)
    opt['path']['resume_state'] = state_path
    with pytest.raises(ResumeMismatchError, match='teacher file .* changed since iter 1'):
        load_resume_state(opt)


def test_record_comparison_is_exact():
    opt = load_yaml(TINY_REALESRGAN_YML)
    same = run_record(opt)
    assert compare_records(same, run_record(copy.deepcopy(opt))) == ([], [])
    opt['train']['gan_opt']['loss_weight'] = 0.2
    refused, allowed = compare_records(same, run_record(opt))
    assert refused == [('train.gan_opt.loss_weight', 0.1, 0.2)] and not allowed
