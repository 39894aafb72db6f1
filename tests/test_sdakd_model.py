"""SDAKDModel in-process: stage switching, frozen teacher, option errors, NaN handling, atomic checkpoints."""
import hashlib
import math
import os

import pytest
import torch

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import TINY_REALESRGAN_YML, load_yaml, save_random_teacher, training_opt
from sdakd_basicsr.archs.feature_adapter_arch import FeatureAdapters
from sdakd_basicsr.families import build_family
from sdakd_basicsr.losses.feature_distill_loss import FeatureMapDistillLoss
from sdakd_basicsr.models.stages import parse_stages, stage_at


@pytest.fixture
def tiny_opt(tmp_path):
    """Tiny options on paired data (no degradation synthesis) with a saved random teacher."""
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    return training_opt(opt, str(tmp_path), train_type='PairedImageDataset')


def batch(seed=0, lq=16):
    g = torch.Generator().manual_seed(seed)
    return {'lq': torch.rand(2, 3, lq, lq, generator=g), 'gt': torch.rand(2, 3, lq * 4, lq * 4, generator=g)}


def params_of(net):
    return [p.detach().clone() for p in net.parameters()]


def changed(before, net):
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_student_and_student_discriminator_derived_from_teacher(tiny_opt):
    model = build_model(tiny_opt)
    assert model.opt['network_g'] == dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2,
                                          num_grow_ch=4)
    assert model.opt['network_d'] == dict(type='UNetDiscriminatorSN', num_in_ch=3, num_feat=8, skip_connection=True)
    assert model.net_g.conv_first.out_channels == 8 and model.net_d.conv0.out_channels == 8
    # adapters map student channels (8) to teacher channels (16) at each tapped layer
    assert [a[0].in_channels for a in model.net_feat_adapters.adapters] == [8, 8, 8]
    assert [a[-1].out_channels for a in model.net_feat_adapters.adapters] == [16, 16, 16]


def test_stages_switch_exactly_and_teacher_never_trains(tiny_opt):
    model = build_model(tiny_opt)
    teacher_before = params_of(model.net_g_teacher)
    seen = {}
    for it in range(1, 7):
        d_before, g_before = params_of(model.net_d), params_of(model.net_g)
        adapters_before = params_of(model.net_feat_adapters)
        model.feed_data(batch(it))
        model.optimize_parameters(it)
        keys = set(model.log_dict)
        seen[it] = (model.log_dict['stage'], changed(d_before, model.net_d),
                    changed(adapters_before, model.net_feat_adapters), 'l_g_distill' in keys, 'l_g_gan' in keys)
        assert changed(g_before, model.net_g)
        assert not model.net_g_teacher.training
        assert all(not p.requires_grad and p.grad is None for p in model.net_g_teacher.parameters())
    # (stage, D_S updated, adapters updated, distillation loss, adversarial loss for G)
    assert seen == {1: (1, False, False, False, False), 2: (1, False, False, False, False),
                    3: (2, True, True, True, False), 4: (2, True, True, True, False),
                    5: (3, True, True, True, True), 6: (3, True, True, True, True)}
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, model.net_g_teacher.parameters()))


def test_parse_stages_boundaries():
    train = {'total_iter': 10, 'pixel_opt': {'type': 'L1Loss'}, 'gan_opt': {'type': 'GANLoss'},
             'distill_opt': {'type': 'FeatureMapDistillLoss'},
             'stages': [{'name': 'a', 'iters': 3, 'losses': ['pixel']},
                        {'name': 'b', 'iters': 3, 'losses': {'pixel': 1, 'distill': 2.5}, 'train_d': 'student'},
                        {'name': 'c', 'iters': 4, 'losses': ['pixel', 'gan'], 'train_d': 'student'}]}
    stages = parse_stages(train)
    assert [stage_at(stages, i).name for i in range(1, 11)] == list('aaabbbcccc')
    assert stages[1].losses == {'pixel': 1.0, 'distill': 2.5} and stages[1].adv_d is None
    assert stages[2].adv_d == 'student'


@pytest.mark.parametrize('change, error, words', [
    (lambda o: o['sdakd'].update(width=0.3), ValueError, ['sdakd.width=0.3', 'network_g_teacher.num_feat']),
    (lambda o: o['train'].update(total_iter=7), ValueError, ['train.total_iter', '2 + 2 + 2 = 6']),
    (lambda o: o['train']['distill_opt'].update(layers=['body.0', 'conv_bdy']), KeyError,
     ["'conv_bdy'", 'conv_body']),
    (lambda o: o['path'].update(pretrain_network_g_teacher='/nonexistent/teacher.pth'), FileNotFoundError,
     ['path.pretrain_network_g_teacher', '/nonexistent/teacher.pth']),
    (lambda o: o['network_g_teacher'].update(num_block=3), ValueError,
     ['network_g_teacher', 'missing from the checkpoint', 'body.2.']),
    (lambda o: o['network_g_teacher'].update(num_feat=24, num_grow_ch=8), ValueError,
     ['shape mismatches', 'conv_first.weight', 'network_g_teacher']),
    (lambda o: o['train']['stages'][2].update(losses=['pixel', 'gan'], train_d=None), ValueError,
     ["'gan' loss but no discriminator"]),
    (lambda o: o['train']['stages'][0].update(losses=['pixel', 'percep']), ValueError,
     ["train.stages[0].losses: unknown loss 'percep'; did you mean 'perceptual'?"]),
    (lambda o: o['train']['stages'][1].update(train_D='student'), ValueError,
     ["train.stages[1].train_D: unknown key; did you mean 'train_d'?"]),
    (lambda o: o.pop('network_d_teacher'), ValueError, ['neither network_d nor network_d_teacher']),
    (lambda o: o['train'].update(teacher_precision='half'), ValueError,
     ["train.teacher_precision='half'", 'bfloat16']),
    (lambda o: o['train'].update(channels_last='yes'), ValueError, ["train.channels_last='yes'", 'true or false']),
    (lambda o: o['train'].update(ema_warmup='yes'), ValueError, ["train.ema_warmup='yes'", 'true or false']),
    (lambda o: o['train'].update(ema_warmup=True, ema_decay=0), ValueError, ['train.ema_warmup', 'ema_decay is 0']),
])
def test_bad_options_fail_before_training_with_a_clear_message(tiny_opt, change, error, words):
    change(tiny_opt)
    with pytest.raises(error) as info:
        build_model(tiny_opt)
    for word in words:
        assert word in str(info.value)


def test_teacher_checkpoint_formats(tiny_opt, tmp_path):
    path = tiny_opt['path']['pretrain_network_g_teacher']
    reference = torch.load(path)['params_ema']
    for key in ('params', None):  # BasicSR 'params' and a bare state dict load too
        save_random_teacher(path, tiny_opt['network_g_teacher'], param_key=key)
        model = build_model(tiny_opt)
        assert all(torch.equal(v, reference[k]) for k, v in model.net_g_teacher.state_dict().items())


def file_digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_nan_loss_stops_training_and_keeps_the_checkpoint(tiny_opt):
    model = build_model(tiny_opt)
    model.feed_data(batch(0))
    model.optimize_parameters(1)
    model.save(0, 1)
    files = sorted(os.listdir(tiny_opt['path']['models'])) + ['../training_states/1.state']
    digests = {f: file_digest(os.path.join(tiny_opt['path']['models'], f)) for f in files}
    bad = batch(1)
    bad['lq'][0, 0, 0, 0] = float('nan')
    model.feed_data(bad)
    before = params_of(model.net_g)
    with pytest.raises(FloatingPointError, match='non-finite loss at iter 2'):
        model.optimize_parameters(2)
    assert not changed(before, model.net_g)  # no optimizer step with a NaN loss
    assert digests == {f: file_digest(os.path.join(tiny_opt['path']['models'], f)) for f in files}
    assert set(torch.load(os.path.join(tiny_opt['path']['models'], 'net_g_1.pth'))) == {'params', 'params_ema'}


@pytest.mark.parametrize('adapter, criterion, n_convs', [('mlp', 'l1', 2), ('conv1x1', 'mse', 1)])
def test_feature_adapters_and_distill_loss(adapter, criterion, n_convs):
    # fresh tensors per variant: no gradient is left over from another case
    student = [torch.randn(2, 8, 6, 6, requires_grad=True)]
    teacher = [torch.randn(2, 16, 6, 6, requires_grad=True)]
    adapters = FeatureAdapters([8], [16], adapter=adapter)
    adapted = adapters(student)
    loss = FeatureMapDistillLoss(criterion=criterion, loss_weight=2.0)(adapted, teacher)
    distance = torch.nn.functional.l1_loss if criterion == 'l1' else torch.nn.functional.mse_loss
    assert torch.allclose(loss, 2.0 * distance(adapted[0], teacher[0]))
    loss.backward()
    assert student[0].grad is not None and student[0].grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in adapters.parameters())
    assert teacher[0].grad is None  # the teacher feature is a fixed target
    assert sum(isinstance(m, torch.nn.Conv2d) for m in adapters.modules()) == n_convs


def test_feature_adapter_options_are_checked():
    with pytest.raises(ValueError, match='network_feat_adapters.adapter'):
        FeatureAdapters([8], [16], adapter='transformer')
    with pytest.raises(ValueError, match='move .*network_feat_adapters'):
        FeatureMapDistillLoss(adapter='mlp')  # the adapter lives in its own network block now


def test_default_feature_layers_of_families():
    assert build_family('realesrgan').default_feature_layers({'num_block': 23}) == [
        'body.5', 'body.11', 'body.17', 'body.22', 'conv_body']
    assert build_family('gcfsr').default_feature_layers({'out_size': 64}) == ['style_conv1', 'style_convs.1',
                                                                              'style_convs.3']
    assert build_family('srvgg').default_feature_layers({'num_conv': 16}) == ['body.9', 'body.17', 'body.25',
                                                                              'body.33']
    with pytest.raises(ValueError, match="sdakd.family='swinir'"):
        build_family('swinir')


def test_families_are_a_basicsr_registry_and_read_their_own_options():
    from basicsr.utils.registry import Registry

    from sdakd_basicsr.families import FAMILY_REGISTRY
    assert isinstance(FAMILY_REGISTRY, Registry)
    assert {'realesrgan', 'srvgg', 'gcfsr'} <= set(FAMILY_REGISTRY.keys())
    teacher = dict(type='RRDBNet', num_feat=64, num_grow_ch=32, num_block=23)
    assert build_family('realesrgan').student_generator_opt(teacher, 0.5)['num_grow_ch'] == 16
    kept = build_family('realesrgan', {'scale_grow_ch': False}).student_generator_opt(teacher, 0.5)
    assert kept['num_feat'] == 32 and kept['num_grow_ch'] == 32
    gcfsr_teacher = dict(type='GCFSRGenerator', out_size=64, num_style_feat=512)
    assert build_family('gcfsr', {'scale_style_feat': False}).student_generator_opt(
        gcfsr_teacher, 0.25)['num_style_feat'] == 512
    # the probe input honours the size it is asked for
    assert build_family('gcfsr').dummy_inputs({'out_size': 64}, 'cpu', size=32)['lq'].shape == (1, 3, 32, 32)
    assert build_family('gcfsr').dummy_inputs({'out_size': 64}, 'cpu')['lq'].shape == (1, 3, 64, 64)


def test_channels_last_and_a_bfloat16_teacher_train_the_same_stages(tiny_opt):
    """``train.channels_last`` keeps every network's weights channels-last (the same values); a bfloat16 teacher
    gives float32 targets close to the float32 teacher's and never trains."""
    torch.manual_seed(0)
    reference = build_model(tiny_opt)
    tiny_opt['train'].update(channels_last=True, teacher_precision='bfloat16')
    torch.manual_seed(0)
    model = build_model(tiny_opt)
    for net in (model.net_g, model.net_d, model.net_g_teacher, model.net_g_ema):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        weights = [getattr(m, 'weight_orig', m.weight) for m in convs]  # spectral norm keeps weight_orig
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
    for a, b in zip(reference.net_g.state_dict().values(), model.net_g.state_dict().values()):
        assert torch.equal(a, b)  # the same initial student, in another layout
    teacher_before = params_of(model.net_g_teacher)
    model.feed_data(batch(5))
    reference.feed_data(batch(5))
    output, features = model._teacher_forward(with_features=True)
    expected, expected_features = reference._teacher_forward(with_features=True)
    assert output.dtype == torch.float32 and all(f.dtype == torch.float32 for f in features)
    assert not torch.equal(output, expected) and torch.allclose(output, expected, atol=0.05)
    assert all(torch.allclose(f, e, atol=0.1, rtol=0.05) for f, e in zip(features, expected_features))
    for it in range(1, 7):
        model.feed_data(batch(it))
        model.optimize_parameters(it)
        assert math.isfinite(model.log_dict['l_g_total'])
    assert 'l_g_gan' in model.log_dict and 'l_g_distill' in model.log_dict
    assert all(p.dtype == torch.float32 for p in model.net_g_teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, model.net_g_teacher.parameters()))


def test_ema_warmup_decay_rule():
    from sdakd_basicsr.models.sdakd_model import ema_decay_at
    assert ema_decay_at(0.999, 1, warmup=False) == 0.999
    assert ema_decay_at(0.999, 1, warmup=True) == pytest.approx(2 / 11)
    assert ema_decay_at(0.999, 800, warmup=True) == pytest.approx(801 / 810)
    assert ema_decay_at(0.99, 5000, warmup=True) == 0.99  # capped by ema_decay


@pytest.mark.parametrize('warmup', [False, True])
def test_ema_weights_follow_the_decay_of_each_iteration(tiny_opt, warmup):
    """After each step the EMA generator is ``d * ema + (1 - d) * student`` with ``d`` the decay of that iteration."""
    tiny_opt['train'].update(ema_decay=0.999, ema_warmup=warmup)
    torch.manual_seed(0)
    model = build_model(tiny_opt)
    for it in (1, 2, 3):
        ema_before = {k: v.clone() for k, v in model.net_g_ema.state_dict().items()}
        model.feed_data(batch(it))
        model.optimize_parameters(it)
        decay = min(0.999, (1 + it) / (10 + it)) if warmup else 0.999
        student = model.get_bare_model(model.net_g).state_dict()
        for key, value in model.net_g_ema.state_dict().items():
            if value.is_floating_point():
                assert torch.allclose(value, decay * ema_before[key] + (1 - decay) * student[key], atol=1e-6), key
        moved = max((model.net_g_ema.state_dict()[k] - ema_before[k]).abs().max().item() for k in ema_before)
        assert moved > 0  # the student changed, so the average did


def test_teacher_precision_auto_follows_the_device(monkeypatch):
    from sdakd_basicsr.models.sdakd_model import teacher_autocast_dtype
    assert teacher_autocast_dtype('float32', 'cpu') is None and teacher_autocast_dtype('auto', 'cuda') == torch.float16
    assert teacher_autocast_dtype('bfloat16', 'cpu') == torch.bfloat16
    for native, expected in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: native)
        assert teacher_autocast_dtype('auto', 'cpu') is expected


def test_validation_grids_run_the_frozen_teacher_once_per_image(tiny_opt):
    from sdakd_basicsr.utils.gan_diagnostics import write_validation_grids

    class ValLoader(list):
        dataset = type('ValSet', (), {'opt': {'name': 'val'}})()

    model = build_model(tiny_opt)
    images = [dict(batch(seed), lq_path=[f'img{seed}.png']) for seed in (1, 2)]
    calls = []
    model.net_g_teacher.register_forward_hook(lambda *_: calls.append(1))
    for it in (10, 20):
        written = write_validation_grids(model, ValLoader(images), it, None, 4)
        assert len(written) == 2 and all(os.path.isfile(p) for p in written)
    assert len(calls) == 2  # one teacher pass per image over both validations
    changed_input = [dict(images[0], lq=images[0]['lq'] + 0.1)]
    write_validation_grids(model, ValLoader(changed_input), 30, None, 4)
    assert len(calls) == 3  # another input under the same name is not taken from the cache
