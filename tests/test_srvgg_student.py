"""SRVGGNetCompact as a student of the Real-ESRGAN (RRDBNet) teacher: tap pairing by relative depth, the
capacity rule of the student D, the generated option files, a three-stage `python -m basicsr.train` run and the
export to the plain format that spandrel loads."""
import os

import pytest
import torch

from helpers import REPO_ROOT, load_yaml, logged_losses, save_random_teacher, training_opt, \
    write_tiny_realesrgan_data

from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import resolve_network_options

TINY_SRVGG_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_realesrgan_srvgg_tiny.yml')
X4PLUS = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32)
X4PLUS_D = dict(type='UNetDiscriminatorSN', num_in_ch=3, num_feat=64, skip_connection=True)


def srvgg(num_feat=64, num_conv=16):
    return dict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=num_feat, num_conv=num_conv, upscale=4,
                act_type='prelu')


# ---------------------------------------------------------------------------------------- default tap mapping
@pytest.mark.parametrize('num_conv, expected', [
    (16, ['body.9', 'body.17', 'body.25', 'body.31', 'body.33']),
    (32, ['body.17', 'body.33', 'body.49', 'body.63', 'body.65'])])
def test_srvgg_student_taps_follow_the_teacher_taps_by_relative_depth(num_conv, expected):
    family = build_family('realesrgan')
    # teacher taps body.5/11/17/22 sit after 6/24, 12/24, 18/24, 23/24 of the trunk, conv_body at its end;
    # SRVGG's j-th activation (body.<2j+1>) after j / num_conv of its conv stack
    student, teacher = family.default_feature_layer_pairs(X4PLUS, srvgg(64, num_conv))
    assert teacher == ['body.5', 'body.11', 'body.17', 'body.22', 'conv_body']
    assert student == expected


def test_same_type_students_tap_the_same_names_and_given_teacher_layers_are_mapped():
    family = build_family('realesrgan')
    rrdb_student = family.student_generator_opt(X4PLUS, 0.25)
    assert family.default_feature_layer_pairs(X4PLUS, rrdb_student, ['body.3']) == (['body.3'], ['body.3'])
    # an RRDB student with fewer blocks is another depth scale: map by depth too
    shallow = dict(rrdb_student, num_block=6)
    assert family.default_feature_layer_pairs(X4PLUS, shallow, ['body.5', 'conv_body'])[0] == ['body.1', 'conv_body']
    assert family.default_feature_layer_pairs(X4PLUS, srvgg(64, 4), ['body.0', 'conv_body'])[0] == ['body.1', 'body.9']
    with pytest.raises(ValueError, match='conv_first'):
        family.default_feature_layer_pairs(X4PLUS, srvgg(), ['conv_first'])
    with pytest.raises(ValueError, match='student_layers and teacher_layers'):
        family.default_feature_layer_pairs(X4PLUS, dict(type='SwinIR'))


# ---------------------------------------------------------------------------------------- student D
def resolved(network_g=None, **sdakd):
    opt = dict(network_g_teacher=dict(X4PLUS), network_d_teacher=dict(X4PLUS_D), sdakd=dict(sdakd))
    if network_g is not None:
        opt['network_g'] = network_g
    return resolve_network_options(opt, build_family('realesrgan', opt['sdakd']))


@pytest.mark.parametrize('num_feat, num_conv, d_feat', [(64, 32, 16), (64, 16, 16), (32, 16, 8), (16, 4, 8)])
def test_student_d_of_an_srvgg_student_follows_its_parameter_count(num_feat, num_conv, d_feat):
    from sdakd_basicsr.families.realesrgan import count_params_of
    opt = resolved(srvgg(num_feat, num_conv))
    assert opt['network_d']['type'] == 'UNetDiscriminatorSN' and opt['network_d']['skip_connection'] is True
    assert opt['network_d']['num_feat'] == d_feat
    exact = 64 * (count_params_of(srvgg(num_feat, num_conv)) / count_params_of(X4PLUS)) ** 0.5
    assert abs(d_feat - exact) <= 4 or d_feat == 8  # nearest multiple of 8, at least 8


@pytest.mark.parametrize('width', [0.5, 0.25, 0.125])
def test_capacity_rule_reproduces_the_width_rule_for_rrdb_students(width):
    by_width = resolved(width=width)
    by_capacity = resolved(width=width, d_width='capacity')
    assert by_capacity['network_d'] == by_width['network_d']
    assert by_width['network_d']['num_feat'] == 64 * width


def test_student_d_width_can_be_set_and_is_checked():
    assert resolved(srvgg(), d_width=0.5)['network_d']['num_feat'] == 32
    assert resolved(srvgg(), d_width='capacity', d_channel_multiple=4)['network_d']['num_feat'] == 12
    with pytest.raises(ValueError, match="sdakd.d_width='big'"):
        resolved(srvgg(), d_width='big')


# ---------------------------------------------------------------------------------------- option files
def test_generated_srvgg_option_files_derive_the_expected_networks():
    family = build_family('realesrgan')
    for name, num_conv, kd in (('sdakd_realesrgan_x4plus_srvgg64x32.yml', 32, True),
                               ('sdakd_realesrgan_x4plus_srvgg64x16.yml', 16, True),
                               ('baselines/realesrgan_x4plus_srvgg64x32_no_kd.yml', 32, False),
                               ('baselines/realesrgan_x4plus_srvgg64x16_no_kd.yml', 16, False)):
        opt = load_yaml(os.path.join(REPO_ROOT, 'options', name))
        opt = resolve_network_options(opt, family)
        assert opt['network_g'] == srvgg(64, num_conv), name
        assert opt['network_d']['num_feat'] == 16, name
        stages = opt['train']['stages']
        assert sum(s['iters'] for s in stages) == opt['train']['total_iter'] == 400000, name
        assert any('distill' in s['losses'] for s in stages) == kd, name
        assert 'gan' in stages[-1]['losses'] and 'perceptual' in stages[0]['losses'], name


# ---------------------------------------------------------------------------------------- CLI + export
@pytest.fixture(scope='module')
def tiny_run(tiny_srvgg_runs):
    """Trained through the command's own entry, forked, with test_srvgg_family.py's run (conftest.py)."""
    return tiny_srvgg_runs['sdakd_realesrgan_srvgg_tiny']


@pytest.mark.slow
def test_tiny_x4plus_to_srvgg_runs_all_three_stages_through_basicsr_train(tiny_run):
    log, exp_dir = tiny_run['log'], tiny_run['exp_dir']
    for stage in ("1/3 starts at iter 1: 'supervised'", "2/3 starts at iter 3: 'distill'",
                  "3/3 starts at iter 5: 'adversarial'"):
        assert f'SDAKD stage {stage}' in log
    losses = logged_losses(log)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    assert 'l_g_distill' not in losses[2] and 'l_g_distill' in losses[3] and 'l_g_gan' in losses[5]
    # default taps by relative depth; teacher 16 ch, SRVGG student 8 ch
    assert 'Feature distillation taps (student -> teacher channels): body.3: 8->16, body.7: 8->16, body.9: 8->16' in log
    net_g = torch.load(os.path.join(exp_dir, 'models', 'net_g_6.pth'), weights_only=True)
    assert set(net_g) == {'params', 'params_ema'} and 'body.9.weight' in net_g['params_ema']
    net_d = torch.load(os.path.join(exp_dir, 'models', 'net_d_6.pth'), weights_only=True)['params']
    assert net_d['conv0.weight'].shape[0] == 8  # capacity rule: the tiny teacher D has 16, the student D 8


@pytest.mark.slow
def test_exported_srvgg_student_loads_in_spandrel_with_the_checkpoints_output(tiny_run, tmp_path):
    spandrel = pytest.importorskip('spandrel', reason='spandrel is not installed (pip install spandrel==0.4.2)')
    from basicsr.archs import build_network
    from sdakd_basicsr.utils.checkpoint import atomic_torch_save, extract_state_dict
    checkpoint = torch.load(os.path.join(tiny_run['exp_dir'], 'models', 'net_g_6.pth'), weights_only=True)
    state, used = extract_state_dict(checkpoint, 'params_ema')
    assert used == 'params_ema'
    plain = str(tmp_path / 'srvgg_student_x4.pth')
    atomic_torch_save({'params': state}, plain)  # the plain format of the official Real-ESRGAN releases

    descriptor = spandrel.ModelLoader().load_from_file(plain)
    assert descriptor.architecture.name == 'RealESRGAN Compact' and descriptor.scale == 4
    reference = build_network(dict(tiny_run['opt']['network_g']))
    reference.load_state_dict(checkpoint['params_ema'])
    reference.eval()
    lq = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(descriptor.model.eval()(lq), reference(lq))


def test_training_opt_helper_still_fits_the_srvgg_options(tmp_path):
    # the model builds from the tiny options with the student written out and no sdakd.width
    from basicsr.models import build_model
    write_tiny_realesrgan_data(str(tmp_path))
    opt = load_yaml(TINY_SRVGG_YML)
    save_random_teacher(os.path.join(str(tmp_path), opt['path']['pretrain_network_g_teacher']),
                        opt['network_g_teacher'])
    opt['train']['distill_opt']['student_layers'] = ['body.1', 'body.5', 'body.9']  # user override wins
    model = build_model(training_opt(opt, str(tmp_path)))
    assert model.student_taps.layer_names == ['body.1', 'body.5', 'body.9']
    assert model.teacher_taps.layer_names == ['body.0', 'body.1', 'conv_body']
    assert type(model.net_g).__name__ == 'SRVGGNetCompact'
