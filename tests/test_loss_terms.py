"""Generator losses are registered terms: the stages are checked against the registry, the model computes the
active terms in a loop, a new loss is one file (``gradient_loss.py``, the CONTRIBUTING example) plus YAML, and
the built-in terms give the values they gave before they became terms."""
import os
import re

import pytest
import torch
import yaml

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import REPO_ROOT, TINY_REALESRGAN_YML, load_yaml, save_random_teacher, training_opt, write_random_vgg
from sdakd_basicsr.losses.gradient_loss import GradientL1Loss
from sdakd_basicsr.losses.terms import LOSS_TERMS, register_loss_term
from sdakd_basicsr.models.stages import parse_stages


def tiny_options(root, stages, **train):
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(os.path.join(root, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    opt['train'] = dict(opt['train'], total_iter=sum(s['iters'] for s in stages), stages=stages, **train)
    return opt


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    return {'lq': torch.rand(2, 3, 16, 16, generator=g), 'gt': torch.rand(2, 3, 64, 64, generator=g)}


def contributing_example():
    """The Python and YAML blocks of CONTRIBUTING.md's "Adding a loss"."""
    text = open(os.path.join(REPO_ROOT, 'CONTRIBUTING.md')).read()
    section = text.split('## Adding a loss')[1].split('\n## ')[0]
    blocks = re.findall(r'```(python|yaml)\n(.*?)```', section, flags=re.DOTALL)
    return dict(blocks)


def test_contributing_shows_the_real_gradient_loss_file():
    source = open(os.path.join(REPO_ROOT, 'sdakd_basicsr', 'losses', 'gradient_loss.py')).read()
    lines = [line for line in contributing_example()['python'].splitlines() if line.strip()]
    assert lines and all(line in source.splitlines() for line in lines)


def test_the_gradient_loss_is_one_file_plus_yaml(tmp_path):
    """The YAML of CONTRIBUTING.md's example, with a multiplier and a second stage added."""
    example = yaml.safe_load(contributing_example()['yaml'])['train']
    stage = example['stages'][0]
    assert 'gradient' in stage['losses']
    opt = tiny_options(str(tmp_path), [dict(name='edges', iters=1, losses={'gradient': 2.0}),
                                       dict(name='rest', iters=1, losses=['pixel', 'gradient'])],
                       gradient_opt=example['gradient_opt'])
    model = build_model(training_opt(opt, str(tmp_path), train_type='PairedImageDataset'))
    before = [p.detach().clone() for p in model.net_g.parameters()]
    data = batch(0)
    with torch.no_grad():  # stage multiplier x loss_weight x the loss
        expected = 2.0 * GradientL1Loss(**{k: v for k, v in example['gradient_opt'].items() if k != 'type'})(
            model.net_g(data['lq']), data['gt'])
    model.feed_data(data)
    model.optimize_parameters(1)
    assert [k for k in model.log_dict if k.startswith('l_g_')] == ['l_g_gradient', 'l_g_total']
    assert model.log_dict['l_g_gradient'] == pytest.approx(expected.item(), rel=1e-5)
    # its gradient reached the student: every weight of the generator moved
    model.feed_data(batch(1))
    model.optimize_parameters(2)
    assert [k for k in model.log_dict if k.startswith('l_g_')] == ['l_g_pix', 'l_g_gradient', 'l_g_total']
    assert all(not torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))


def test_gradient_loss_sees_edges_not_brightness():
    flat = torch.zeros(1, 3, 8, 8)
    assert GradientL1Loss()(flat + 0.5, flat).item() == 0  # a constant offset has no edges
    edge = flat.clone()
    edge[..., 4:] = 1
    assert GradientL1Loss()(edge, flat).item() > 0


def test_stages_are_checked_against_the_registered_terms():
    train = dict(total_iter=1, pixel_opt=dict(type='L1Loss'))
    with pytest.raises(ValueError, match=r"train.stages\[0\].losses: unknown loss 'gradiant'; did you mean "
                                         r"'gradient'\?"):
        parse_stages(dict(train, stages=[dict(iters=1, losses=['pixel', 'gradiant'])]))
    with pytest.raises(ValueError, match=r"train.stages\[0\] uses loss 'gradient', but train.gradient_opt is not"):
        parse_stages(dict(train, stages=[dict(iters=1, losses=['gradient'])]))
    assert LOSS_TERMS['gradient'].target == 'gt' and LOSS_TERMS['gradient'].log_key == 'l_g_gradient'
    with pytest.raises(ValueError, match='registered twice'):
        register_loss_term('gradient', 'gradient_opt', 'gt')
    with pytest.raises(ValueError, match="target 'teacher'"):
        register_loss_term('new', 'new_opt', 'teacher')


#: per iteration, the values logged by the 4-stage run below, recorded before the losses became registered terms
#: (torch 2.x, CPU); the same inputs, weights and order must give them again
RECORDED = [
    {'l_g_pix': 0.49863842129707336, 'l_g_percep': 1.339665174484253, 'l_g_style': 0.00646192766726017,
     'l_g_total': 1.844765543937683},
    {'l_g_pix': 0.24904035031795502, 'l_g_distill': 0.6839290261268616, 'l_g_output_distill': 0.018959984183311462,
     'l_g_total': 0.9519293904304504, 'l_d_real': 0.7400710582733154, 'l_d_fake': 0.6645357012748718},
    {'l_g_pix': 0.49892544746398926, 'l_g_percep': 1.3391716480255127, 'l_g_style': 0.006525752134621143,
     'l_g_distill': 0.3475537598133087, 'l_g_output_distill': 0.018948661163449287, 'l_g_gan': 0.07196000218391418,
     'l_g_total': 2.2830851078033447, 'l_d_real': 0.7227866649627686, 'l_d_fake': 0.6696043610572815},
    {'l_g_pix': 0.49738243222236633, 'l_g_gan': 0.06663332879543304, 'l_g_total': 0.5640157461166382,
     'l_d_teacher_real': 0.6123221516609192, 'l_d_teacher_fake': 0.7144691944122314},
]
RECORDED_G_SUM = -2.988267952249771


def test_built_in_terms_give_the_recorded_losses(tmp_path):
    """Every built-in term (pixel, perceptual with style, feature and output distillation, GAN from D_S and D_T),
    with stage multipliers, for one iteration per stage."""
    torch.manual_seed(0)
    root = str(tmp_path)
    opt = tiny_options(root, [
        dict(name='a', iters=1, losses=['pixel', 'perceptual']),
        dict(name='b', iters=1, losses={'pixel': 0.5, 'distill': 2, 'output_distill': 1}, train_d='student'),
        dict(name='c', iters=1, losses=['pixel', 'perceptual', 'distill', 'output_distill', 'gan'], train_d='student'),
        dict(name='d', iters=1, losses=['pixel', 'gan'], train_d='teacher')],
        perceptual_opt=dict(type='OfflinePerceptualLoss', vgg_weights_path=write_random_vgg(
            os.path.join(root, 'vgg19.pth')), layer_weights={'conv1_2': 0.1, 'conv3_4': 1}, vgg_type='vgg19',
            perceptual_weight=1.0, style_weight=0.5, range_norm=False, criterion='l1'),
        output_distill_opt=dict(type='L1Loss', loss_weight=0.5))
    d_path = os.path.join(root, 'teacher_d.pth')
    save_random_teacher(d_path, opt['network_d_teacher'], seed=1, param_key='params')
    opt['path'] = dict(opt['path'], pretrain_network_d_teacher=d_path)
    model = build_model(training_opt(opt, root, train_type='PairedImageDataset'))
    for it, recorded in enumerate(RECORDED, start=1):
        model.feed_data(batch(it))
        model.optimize_parameters(it)
        logged = {k: float(v) for k, v in model.log_dict.items() if k.startswith('l_')}
        assert list(logged) == list(recorded), it  # same terms, same order in the log line
        assert logged == pytest.approx(recorded, rel=1e-5), it
    g_sum = sum(float(p.detach().double().sum()) for p in model.net_g.parameters())
    assert g_sum == pytest.approx(RECORDED_G_SUM, rel=1e-6)
