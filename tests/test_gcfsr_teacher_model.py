"""GCFSRTeacherModel: the recipe's optimizer scaling and step, checkpoint loading, and a ``python -m basicsr.train``
run on CPU continued with ``--auto_resume``, all offline.

The two runs go through the command's own entry in children forked from one process (tests/forked_training.py:
one start-up for both); the command in a subprocess of its own is tested in test_train_cli.py."""
import copy
import glob
import math
import os

import cv2
import pytest
import torch

import sdakd_basicsr  # noqa: F401  (registers model, archs, datasets)
from basicsr.models import build_model
from forked_training import train_forked
from helpers import REPO_ROOT, write_random_vgg

from sdakd_basicsr.utils.options import load_options

TINY_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'train_gcfsr_tiny.yml')
FULL_YML = os.path.join(REPO_ROOT, 'options', 'teachers', 'train_gcfsr_512.yml')


def write_tiny_faces(root):
    """64×64 crops of scikit-image's astronaut photo (train) and one more (val), as 8-bit PNGs."""
    import skimage.data
    photo = skimage.data.astronaut()[..., ::-1]  # RGB -> BGR for cv2
    train = os.path.join(root, 'datasets', 'tiny_gcfsr', 'train')
    val = os.path.join(root, 'datasets', 'tiny_gcfsr', 'val')
    os.makedirs(train)
    os.makedirs(val)
    for i, (y, x, side) in enumerate([(0, 120, 256), (40, 160, 160), (300, 0, 200)]):
        crop = photo[y:y + side, x:x + side]
        cv2.imwrite(os.path.join(train, f'{i:02d}.png'), cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA))
    face = photo[20:220, 150:350]
    cv2.imwrite(os.path.join(val, 'face.png'), cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA))


def model_opt(root, **train_overrides):
    """What parse_options gives the model for the tiny options, without the perceptual loss (no VGG)."""
    opt = load_options(TINY_YML)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=str(root))
    exp = os.path.join(str(root), 'experiments', opt['name'])
    for key in ('models', 'training_states', 'visualization'):
        opt['path'][key] = os.path.join(exp, key)
        os.makedirs(opt['path'][key], exist_ok=True)
    opt['path']['experiments_root'] = exp
    opt['train'].pop('perceptual_opt')
    opt['train'].update(train_overrides)
    return opt


def fake_batch(batch=1, size=64):
    torch.manual_seed(0)
    gt = torch.rand(batch, 3, size, size) * 2 - 1
    return {'lq': gt.clone(), 'gt': gt, 'in_size': torch.full((batch, 1), 0.25)}


def test_optimizers_use_lazy_regularisation_scaling(tmp_path):
    model = build_model(model_opt(tmp_path, net_g_reg_every=4, net_d_reg_every=16))
    assert type(model).__name__ == 'GCFSRTeacherModel'
    assert model.optimizers == [model.optimizer_g, model.optimizer_d]
    for opt, r in ((model.optimizer_g, 4), (model.optimizer_d, 16)):
        group = opt.param_groups[0]
        c = r / (r + 1)
        assert group['lr'] == pytest.approx(2e-3 * c)
        assert group['betas'] == pytest.approx((0.0, 0.99**c))
    assert model.ema_decay == pytest.approx(0.5**(32 / 10000))
    assert model.opt['train']['optim_g']['type'] == 'Adam'  # options left intact


def test_step_order_r1_and_ema(tmp_path):
    model = build_model(model_opt(tmp_path, net_d_reg_every=2))
    model.feed_data(fake_batch())
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    ema_before = [p.detach().clone() for p in model.net_g_ema.parameters()]
    model.optimize_parameters(1)  # no R1 at odd iterations
    assert set(model.log_dict) == {'l_d', 'out_d_real', 'out_d_fake', 'l_g_gan', 'l_g_pix'}
    model.optimize_parameters(2)
    assert 'l_d_r1' in model.log_dict and math.isfinite(model.log_dict['l_d_r1'])
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, model.net_g_ema.parameters()))
    # D is frozen after its step so that the G loss does not leave gradients in it
    assert all(not p.requires_grad for p in model.net_d.parameters())


def test_validation_maps_to_unit_range(tmp_path):
    model = build_model(model_opt(tmp_path))
    model.feed_data(fake_batch(batch=1))
    model.test()
    visuals = model.get_current_visuals()
    assert visuals['result'].shape == (1, 3, 64, 64)
    for key in ('lq', 'result', 'gt'):
        assert 0 <= visuals[key].min() and visuals[key].max() <= 1
    from basicsr.utils import tensor2img
    assert (tensor2img([visuals['gt']]) == tensor2img(model.gt.cpu(), min_max=(-1, 1))).all()
    assert model.net_g.training and not model.net_g_ema.training  # training can go on after validation
    model.feed_data(fake_batch())
    model.optimize_parameters(1)


def test_bare_pretrained_generator_and_blind_variant(tmp_path):
    opt = model_opt(tmp_path)
    net_opt = dict(opt['network_g'], type='GCFSRBlindGenerator')
    from basicsr.archs import build_network
    torch.manual_seed(1)
    bare = build_network(copy.deepcopy(net_opt)).state_dict()
    path = os.path.join(str(tmp_path), 'gcfsr_blind_tiny.pth')
    torch.save(bare, path)  # like the released gcfsr_blind_512.pth: no 'params' key
    opt['network_g'] = net_opt
    opt['path'].update(pretrain_network_g=path, param_key_g='params_ema')
    model = build_model(opt)
    for net in (model.net_g, model.net_g_ema):
        assert all(torch.equal(bare[k], v) for k, v in net.state_dict().items())
    batch = fake_batch()
    del batch['in_size']  # the blind generator needs none
    model.feed_data(batch)
    model.optimize_parameters(1)
    assert math.isfinite(model.log_dict['l_g_gan'])


def test_full_recipe_options_parse():
    opt = load_options(FULL_YML)
    assert opt['model_type'] == 'GCFSRTeacherModel'
    assert [k for k in opt['datasets'] if k.startswith('val')] == ['val_x8', 'val_x16', 'val_x32']
    assert [opt['datasets'][k]['scale'] for k in ('val_x8', 'val_x16', 'val_x32')] == [8, 16, 32]
    train = opt['train']
    assert train['total_iter'] == 800000 and opt['datasets']['train']['batch_size_per_gpu'] == 3
    assert train['optim_g']['lr'] == train['optim_d']['lr'] == 2e-3
    assert train['gan_opt']['loss_weight'] == 1e-2 and train['perceptual_opt']['perceptual_weight'] == 1e-2
    assert train['ema_decay'] == pytest.approx(0.5**(32 / 10000))
    assert (train['r1_reg_weight'], train['net_d_reg_every'], train['net_g_reg_every']) == (10, 16, 4)
    assert 'scale' not in opt  # would override each GCFSRValDataset's scale


@pytest.mark.slow
def test_cli_trains_saves_and_auto_resumes_on_cpu(tmp_path):
    cwd = str(tmp_path / 'work')
    os.makedirs(cwd)
    write_tiny_faces(cwd)
    write_random_vgg(os.path.join(cwd, 'experiments', 'pretrained_models', 'vgg16-397923af.pth'), 'vgg16')

    # one iteration, then continued to two with --auto_resume (one after the other: jobs=1)
    first, second = train_forked([(cwd, ['-opt', TINY_YML]),
                                  (cwd, ['-opt', TINY_YML, '--auto_resume', '--force_yml', 'train:total_iter=2'])],
                                 jobs=1)
    assert first['returncode'] == 0, first['output'][-6000:]
    exp = os.path.join(cwd, 'experiments', 'train_gcfsr_tiny')
    ckpt = torch.load(os.path.join(exp, 'models', 'net_g_1.pth'), map_location='cpu')
    assert set(ckpt) == {'params', 'params_ema'}
    assert 'final_linear.weight' in ckpt['params_ema']
    assert os.path.isfile(os.path.join(exp, 'models', 'net_d_1.pth'))
    assert os.path.isfile(os.path.join(exp, 'training_states', '1.state'))
    for name in ('tiny_val_x8', 'tiny_val_x16'):  # one folder per validation set
        assert glob.glob(os.path.join(exp, 'visualization', name, 'face', 'face_1.png'))
    logs = sorted(glob.glob(os.path.join(exp, 'train_train_gcfsr_tiny_*.log')), key=os.path.getmtime)
    assert len(logs) == 2  # one per run
    log = open(logs[0]).read()
    assert 'Validation tiny_val_x16' in log and '# psnr:' in log
    assert 'l_g_percep' in log and 'l_g_gan' in log

    assert second['returncode'] == 0, second['output'][-6000:]
    resumed = open(logs[-1]).read()
    assert 'Resuming training from epoch: 0, iter: 1.' in resumed
    assert 'l_d_r1' in resumed  # R1 at iteration 2 = net_d_reg_every
    ckpt2 = torch.load(os.path.join(exp, 'models', 'net_g_2.pth'), map_location='cpu')
    assert not torch.equal(ckpt2['params']['final_linear.weight'], ckpt['params']['final_linear.weight'])
    # nothing was downloaded: the torch home of both runs stays empty
    assert not [f for _, _, files in os.walk(os.path.join(cwd, 'empty_torch_home')) for f in files]
