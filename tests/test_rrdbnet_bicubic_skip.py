"""RRDBNetBicubicSkip: an RRDBNet student that adds the bicubic upscaling of its input. Starts as bicubic, learns
through the zero-initialised last layer, taps the teacher's layer names, exports to ONNX and a card."""
import pytest
import torch
import torch.nn.functional as F

import sdakd_basicsr  # noqa: F401  (registers the archs)
from basicsr.archs import build_network

from sdakd_basicsr.families import build_family, family_for_generator
from test_srvgg_student import X4PLUS, resolved


def skip_student(num_feat=16, num_grow_ch=8, num_block=23, scale=4, **extra):
    return dict(type='RRDBNetBicubicSkip', num_in_ch=3, num_out_ch=3, scale=scale, num_feat=num_feat,
                num_block=num_block, num_grow_ch=num_grow_ch, **extra)


def photo_lr(size=24):
    import skimage.data
    crop = skimage.data.coffee()[100:100 + size, 200:200 + size]
    return torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize('scale', [4, 2])
def test_untrained_network_is_exactly_bicubic_upscaling(scale):
    torch.manual_seed(0)
    net = build_network(skip_student(num_feat=8, num_grow_ch=4, num_block=2, scale=scale)).eval()
    lr = photo_lr()
    with torch.no_grad():
        out = net(lr)
    expected = F.interpolate(lr, scale_factor=scale, mode='bicubic', align_corners=False)
    assert out.shape == (1, 3, 24 * scale, 24 * scale)
    assert torch.equal(out, expected)


def test_without_zero_init_the_trunk_adds_to_bicubic():
    torch.manual_seed(0)
    net = build_network(skip_student(num_feat=8, num_grow_ch=4, num_block=2, zero_init_last=False)).eval()
    lr = photo_lr()
    with torch.no_grad():
        residual = net(lr) - F.interpolate(lr, scale_factor=4, mode='bicubic', align_corners=False)
    assert residual.abs().mean() > 1e-3


def test_the_trunk_learns_after_the_first_step():
    """Zero ``conv_last`` blocks the trunk's gradient only until its first update."""
    torch.manual_seed(0)
    net = build_network(skip_student(num_feat=8, num_grow_ch=4, num_block=2))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    lr = photo_lr(16)
    target = torch.rand(1, 3, 64, 64)
    grads = []
    for _ in range(2):
        optimizer.zero_grad()
        F.l1_loss(net(lr), target).backward()
        grads.append(net.conv_first.weight.grad.abs().sum().item())
        optimizer.step()
    assert grads[0] == 0 and grads[1] > 0
    assert net.conv_last.weight.abs().sum() > 0


def test_channels_in_and_out_must_match():
    with pytest.raises(ValueError, match=r'num_in_ch \(4\) must equal num_out_ch \(3\)'):
        build_network(dict(skip_student(), num_in_ch=4))


def test_same_parameters_and_names_as_the_rrdbnet_student():
    family = build_family('realesrgan')
    plain = build_network(family.student_generator_opt(X4PLUS, 0.25))
    skip = build_network(skip_student())
    assert [(n, p.shape) for n, p in plain.named_parameters()] == [(n, p.shape) for n, p in skip.named_parameters()]
    # weights of a plain student load into the skip net (they then compute RRDBNet + bicubic)
    skip.load_state_dict(plain.state_dict())


@pytest.mark.parametrize('width, num_feat, num_grow_ch', [(0.25, 16, 8), (0.5, 32, 16)])
def test_bicubic_skip_option_derives_the_width_scaled_student_with_the_skip(width, num_feat, num_grow_ch):
    opt = resolved(width=width, bicubic_skip=True)
    expected = skip_student(num_feat=num_feat, num_grow_ch=num_grow_ch)
    del expected['scale']  # the teacher's options leave RRDBNet's default, 4
    assert opt['network_g'] == expected
    # the student D is the plain student's: capacity rule, same parameters, same width
    assert opt['network_d'] == resolved(width=width)['network_d']
    assert opt['network_d']['num_feat'] == 64 * width
    assert resolved(width=width)['network_g']['type'] == 'RRDBNet'  # default: the paper's student


def test_bicubic_skip_must_be_a_bool():
    with pytest.raises(ValueError, match=r"sdakd.bicubic_skip='yes'"):
        resolved(width=0.25, bicubic_skip='yes')


def test_family_knows_the_type_and_taps_the_teacher_names():
    family = build_family('realesrgan')
    assert family_for_generator('RRDBNetBicubicSkip') == 'realesrgan'
    student, teacher = family.default_feature_layer_pairs(X4PLUS, skip_student())
    assert student == teacher == ['body.5', 'body.11', 'body.17', 'body.22', 'conv_body']
    assert resolved(skip_student(), width=0.25)['network_g']['type'] == 'RRDBNetBicubicSkip'


@pytest.mark.slow
def test_onnx_export_matches_pytorch_including_the_borders(tmp_path):
    from sdakd_basicsr.deploy.onnx_export import export_onnx, max_onnx_error, onnx_session
    from sdakd_basicsr.deploy.student import StudentSpec
    torch.manual_seed(0)
    net = build_network(skip_student(num_feat=8, num_grow_ch=4, num_block=2, zero_init_last=False)).eval()
    spec = StudentSpec('realesrgan', skip_student(num_feat=8, num_grow_ch=4, num_block=2), scale=4)
    path = str(tmp_path / 'skip.onnx')
    module = export_onnx(net, spec, path)
    session = onnx_session(path, threads=1)
    for lr in (photo_lr(24), photo_lr(40)[..., :28]):
        assert max_onnx_error(session, module, lr) < 1e-4


def test_tiled_inference_of_the_skip_is_seamless():
    """The untrained student is bicubic: tiles with overlap give the whole image's output up to rounding (bicubic
    reads 2 LR px around each output pixel, the overlap is wider)."""
    import numpy as np
    import skimage.data
    from sdakd_basicsr.deploy.runner import StudentRunner, image_to_tensor, tensor_to_image
    from sdakd_basicsr.deploy.student import StudentSpec
    opt = skip_student(num_feat=8, num_grow_ch=4, num_block=1)
    net, spec = build_network(opt).eval(), StudentSpec('realesrgan', opt, scale=4)
    lr = image_to_tensor(np.ascontiguousarray(skimage.data.coffee()[100:164, 200:296, ::-1]))  # BGR, 64 x 96
    whole = tensor_to_image(StudentRunner(net, spec, backend='eager', tile=0).upscale(lr)).astype(int)
    tiled = tensor_to_image(StudentRunner(net, spec, backend='eager', tile=32, overlap=8).upscale(lr)).astype(int)
    assert whole.shape == (256, 384, 3)
    diff = np.abs(whole - tiled)
    print(f'tiled (32 px, overlap 8) vs whole, untrained skip student: max {diff.max()}, mean {diff.mean():.4f}')
    # a tile's own border (replicated by bicubic) keeps a small weight in the blend: a level or two, rarely
    assert diff.max() <= 2 and diff.mean() < 0.05
