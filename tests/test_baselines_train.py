"""Every generated baseline and ablation trains through the literal `python -m basicsr.train`, for both families.

Tiny variants of the tiny test configurations (random-weight teachers: plumbing only), one iteration per stage;
the log shows the losses each method is defined by and the discriminator diagnostics, and validation writes the
LR | student | teacher | GT grids. The variants run through the command's own entry in children forked from one
process (tests/forked_training.py: one start-up instead of one per variant); the command in a subprocess of its
own is tested per family in test_train_cli.py and test_sdakd_gcfsr.py.
"""
import glob
import os

import pytest
import torch

from helpers import (TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML, load_yaml, logged_losses,
                     prepare_tiny_realesrgan_run, save_random_teacher, write_tiny_face_data)
from forked_training import train_forked

from sdakd_basicsr.make_options import variant_text
from sdakd_basicsr.families import build_family
from sdakd_basicsr.methods import METHODS, make_variant

TOTAL_ITER = 3

#: method -> (number of stages, {iter: loss names that must be logged}, loss names never logged)
EXPECTED = {
    'sdakd': (3, {1: ['l_g_pix'], 2: ['l_g_distill', 'l_d_real', 'diag_d_wins'], 3: ['l_g_gan', 'diag_d_gap']},
              ['l_g_output_distill']),
    'no_kd': (2, {3: ['l_d_real', 'l_g_gan', 'diag_d_wins', 'diag_d_gap']}, ['l_g_distill']),
    'teacher_d': (3, {2: ['l_d_teacher_real', 'diag_d_teacher_wins'], 3: ['l_g_gan', 'diag_d_teacher_gap']},
                  ['l_d_real']),
    'teacher_d_scratch': (3, {2: ['l_d_real', 'diag_d_wins'], 3: ['l_g_gan', 'diag_d_gap']}, ['l_d_teacher_real']),
    'gan_compression': (1, {1: ['l_g_output_distill', 'l_g_distill', 'l_g_gan', 'l_d_real', 'diag_d_gap']}, []),
    'omgd': (1, {1: ['l_g_output_distill', 'l_g_distill']}, ['l_d_real', 'l_g_gan', 'diag_d_wins']),
    'no_supervised_stage': (2, {1: ['l_g_distill', 'l_d_real'], 3: ['l_g_gan']}, []),
    'no_distill_stage': (2, {3: ['l_g_distill', 'l_g_gan']}, []),
    'no_feature_kd': (3, {2: ['l_d_real'], 3: ['l_g_gan']}, ['l_g_distill']),
    'conv1x1_adapter': (3, {2: ['l_g_distill']}, []),
    'adv_in_stage2': (3, {2: ['l_g_distill', 'l_g_gan', 'diag_d_gap']}, []),
}


# plain SDAKD through the same command is covered by test_train_cli.py and test_sdakd_gcfsr.py
CASES = [('realesrgan', m) for m in EXPECTED if m != 'sdakd'] + [('gcfsr', m) for m in EXPECTED
                                                                 if m not in ('sdakd', 'teacher_d')]


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    """Working directories with tiny data and random teachers (and a random released-style D for teacher_d)."""
    realesrgan = str(tmp_path_factory.mktemp('realesrgan'))
    opt = prepare_tiny_realesrgan_run(realesrgan)
    released_d = os.path.join(realesrgan, build_family('realesrgan').released_teacher_d)
    save_random_teacher(released_d, opt['network_d_teacher'], param_key='params')
    gcfsr = str(tmp_path_factory.mktemp('gcfsr'))
    write_tiny_face_data(gcfsr)
    opt = load_yaml(TINY_GCFSR_SDAKD_YML)
    save_random_teacher(os.path.join(gcfsr, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    return {'realesrgan': (realesrgan, TINY_REALESRGAN_YML), 'gcfsr': (gcfsr, TINY_GCFSR_SDAKD_YML)}


@pytest.fixture(scope='module')
def trained(roots):
    """Every case's option file written and trained (all in one forked driver); case -> its run's result."""
    runs = []
    for family, method in CASES:
        root, source = roots[family]
        name = f'{family}_{method}'
        option_file = os.path.join(root, f'{name}.yml')
        with open(option_file, 'w') as handle:
            handle.write(variant_text(source, method, name=name, total_iter=TOTAL_ITER))
        runs.append((root, ['-opt', option_file]))
    return dict(zip(CASES, train_forked(runs)))


@pytest.mark.slow
@pytest.mark.parametrize('family,method', CASES, ids=[f'{f}-{m}' for f, m in CASES])
def test_generated_variant_trains_through_basicsr_train(roots, trained, family, method):
    root, source = roots[family]
    name = f'{family}_{method}'
    run = trained[family, method]
    assert run['returncode'] == 0, run['output'][-6000:]
    exp_dir = os.path.join(root, 'experiments', name)
    log = open(next(os.path.join(exp_dir, f) for f in os.listdir(exp_dir) if f.startswith('train_'))).read()
    num_stages, present, absent = EXPECTED[method]
    assert f'SDAKD stage {num_stages}/{num_stages} starts' in log
    losses = logged_losses(log)
    assert sorted(losses) == list(range(1, TOTAL_ITER + 1))
    for iteration, names in present.items():
        for loss in names:
            assert loss in losses[iteration], (iteration, loss, losses[iteration])
    for loss in absent:
        assert all(loss not in line.split() and f'{loss}:' not in line for line in losses.values()), loss
    val_name = next(v['name'] for k, v in load_yaml(source)['datasets'].items() if k.startswith('val'))
    grids = glob.glob(os.path.join(exp_dir, 'visualization', 'grids', str(TOTAL_ITER), val_name, '*.png'))
    assert grids, 'validation wrote no LR | student | teacher | GT grid'
    models = os.path.join(exp_dir, 'models')
    assert os.path.isfile(os.path.join(models, f'net_g_{TOTAL_ITER}.pth'))
    opt = load_yaml(source)
    if method in ('teacher_d_scratch', 'gan_compression'):  # teacher-size D, trained from scratch
        saved = torch.load(os.path.join(models, f'net_d_{TOTAL_ITER}.pth'))['params']
        first_conv = next(v for k, v in saved.items() if k.endswith('weight') and v.dim() == 4)
        teacher_d = opt['network_d_teacher']
        expected = teacher_d['num_feat'] if family == 'realesrgan' else None
        if expected is not None:
            assert first_conv.shape[0] == expected
    if method in ('conv1x1_adapter', 'gan_compression'):
        (adapter_file, ) = glob.glob(os.path.join(models, f'net_*adapters_{TOTAL_ITER}.pth'))
        weights = [k for k in torch.load(adapter_file)['params'] if k.endswith('.weight')]
        num_layers = len(opt['train']['distill_opt']['layers'])
        assert len(weights) == num_layers  # one 1x1 conv per tapped layer (the MLP has two)
    if method == 'omgd':
        assert not os.path.exists(os.path.join(models, f'net_d_{TOTAL_ITER}.pth'))


def test_teacher_d_is_refused_for_gcfsr():
    with pytest.raises(ValueError, match='teacher_d_scratch'):
        make_variant(load_yaml(TINY_GCFSR_SDAKD_YML), 'teacher_d', 'x')


def test_every_method_of_the_table_is_trained_here():
    assert set(EXPECTED) == set(METHODS) - {'no_kd_halves'}  # no_kd_halves: test_srvgg_student.py
