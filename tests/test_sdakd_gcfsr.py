"""SDAKD on the GCFSR family: the literal BasicSR command on a tiny face configuration, and input checks."""
import os

import pytest
import torch

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import (TINY_GCFSR_SDAKD_YML, load_yaml, logged_losses, save_random_teacher, train_tiny, training_opt,
                     write_tiny_face_data)


@pytest.mark.slow
def test_literal_command_runs_the_three_stages_on_gcfsr(tmp_path):
    root = str(tmp_path)
    write_tiny_face_data(root)
    _, exp_dir, log = train_tiny(root, TINY_GCFSR_SDAKD_YML)
    for text in ("stage 1/3 starts at iter 1", "stage 2/3 starts at iter 3", "stage 3/3 starts at iter 5",
                 'style_conv1: 32->64', '# psnr:'):
        assert text in log
    losses = logged_losses(log)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    assert 'l_d_r1' in losses[4] and 'l_g_gan' in losses[5]  # lazy R1 every 2nd D step in the tiny run
    saved = torch.load(os.path.join(exp_dir, 'models', 'net_g_6.pth'))
    assert saved['params']['final_linear.weight'].shape[1] == 4 * 4 * 32 // 2  # narrow 1/16 at 4x4


@pytest.fixture
def gcfsr_model(tmp_path):
    opt = load_yaml(TINY_GCFSR_SDAKD_YML)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    return build_model(training_opt(opt, str(tmp_path)))


def test_gcfsr_batches_need_the_condition(gcfsr_model):
    with pytest.raises(KeyError, match=r"gcfsr family needs batch keys \['lq', 'in_size'\].*missing \['in_size'\]"):
        gcfsr_model.feed_data({'lq': torch.zeros(1, 3, 64, 64), 'gt': torch.zeros(1, 3, 64, 64)})


def test_gcfsr_inputs_of_the_wrong_size_are_rejected(gcfsr_model):
    gcfsr_model.feed_data({'lq': torch.zeros(1, 3, 32, 32), 'gt': torch.zeros(1, 3, 32, 32),
                           'in_size': torch.ones(1, 1)})
    with pytest.raises(ValueError, match='out_size'):
        gcfsr_model.optimize_parameters(1)


def test_gcfsr_student_is_half_the_teacher(gcfsr_model):
    assert gcfsr_model.opt['network_g']['narrow'] == pytest.approx(0.0625)
    assert gcfsr_model.opt['network_d']['narrow'] == pytest.approx(0.0625)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(gcfsr_model.net_g) < count(gcfsr_model.net_g_teacher) / 2
    # the family maps [-1, 1] outputs to [0, 1] for metrics
    gcfsr_model.feed_data({'lq': -torch.ones(1, 3, 64, 64), 'gt': torch.ones(1, 3, 64, 64),
                           'in_size': torch.full((1, 1), 0.25)})
    gcfsr_model.test()
    visuals = gcfsr_model.get_current_visuals()
    assert visuals['gt'].min() == 1 and visuals['lq'].max() == 0


def test_teacher_checkpoint_of_another_width_is_rejected_with_the_fix(tmp_path):
    opt = load_yaml(TINY_GCFSR_SDAKD_YML)
    other_width = dict(opt['network_g_teacher'], narrow=0.0625)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), other_width)
    with pytest.raises(ValueError) as info:
        build_model(training_opt(opt, str(tmp_path)))
    for words in ('shape mismatches', 'network_g_teacher', 'narrow', 'path.pretrain_network_g_teacher'):
        assert words in str(info.value)


def test_family_calls_the_blind_generator_without_condition():
    from basicsr.archs import build_network
    from sdakd_basicsr.families import build_family
    family = build_family('gcfsr')
    blind = build_network(dict(type='GCFSRBlindGenerator', out_size=64, num_style_feat=32, narrow=0.0625)).eval()
    with torch.no_grad():
        out = family.generate(blind, {'lq': torch.zeros(1, 3, 64, 64), 'in_size': torch.ones(1, 1)})
    assert out.shape == (1, 3, 64, 64)
    student = family.student_generator_opt(dict(type='GCFSRBlindGenerator', out_size=64, num_style_feat=32,
                                                narrow=0.125), 0.5)
    assert student == dict(type='GCFSRBlindGenerator', out_size=64, num_style_feat=16, narrow=0.0625)
