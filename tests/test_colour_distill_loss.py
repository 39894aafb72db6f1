"""Colour distillation (``colour_distill``, LowFrequencyL1Loss): block means of the student's image against the
teacher's. It sees a colour offset and not texture, it corrects an offset under texture faster than a per-pixel
L1, and a stage uses it against the teacher's image."""
import pytest
import torch
from torch.nn import functional as F

from basicsr.models import build_model

from helpers import training_opt
from sdakd_basicsr.losses.colour_distill_loss import LowFrequencyL1Loss
from sdakd_basicsr.losses.terms import LOSS_TERMS
from test_loss_terms import batch, tiny_options


def textured(seed, size=32):
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_it_measures_an_offset_and_ignores_texture_inside_a_block():
    image = textured(0)
    assert LowFrequencyL1Loss(scale=8)(image + 0.02, image).item() == pytest.approx(0.02, abs=1e-6)
    # the same block means, different texture: no colour difference
    shuffled = image.reshape(1, 3, 4, 8, 4, 8).flip(3, 5).reshape(1, 3, 32, 32)
    assert F.l1_loss(shuffled, image).item() > 0.2
    assert LowFrequencyL1Loss(scale=8)(shuffled, image).item() == pytest.approx(0, abs=1e-6)
    assert LowFrequencyL1Loss(scale=8, loss_weight=3)(image + 0.02, image).item() == pytest.approx(0.06, abs=1e-6)


def test_it_corrects_an_offset_under_texture_faster_than_per_pixel_l1():
    """Gradient descent on a student image that has the teacher's texture plus a colour offset, where the texture
    errors are ten times the offset: the block-mean loss removes the offset, the per-pixel L1 hardly moves it."""
    teacher = textured(1)
    noise = (textured(2) - 0.5) * 0.4  # texture errors up to 0.2 against an offset of 0.02
    offsets = {}
    for name, criterion in (('pixel', F.l1_loss), ('colour', LowFrequencyL1Loss(scale=8))):
        student = (teacher + noise + 0.02).clone().requires_grad_(True)
        # both losses give each pixel a gradient of 1 / pixels: every step moves each pixel by 0.001
        optimizer = torch.optim.SGD([student], lr=0.001 * student.numel())
        for _ in range(25):
            optimizer.zero_grad()
            criterion(student, teacher).backward()
            optimizer.step()
        offsets[name] = (student - teacher).mean().item()  # what the colour check measures
    assert abs(offsets['colour']) < 0.005 < 0.015 < abs(offsets['pixel'])


def test_bad_scales_are_named():
    for scale in (0, 2.5, True):
        with pytest.raises(ValueError, match=r'colour_distill_opt.scale='):
            LowFrequencyL1Loss(scale=scale)
    with pytest.raises(ValueError, match='smaller than one block'):
        LowFrequencyL1Loss(scale=64)(textured(0), textured(1))


def test_a_stage_uses_it_against_the_teachers_image(tmp_path):
    assert LOSS_TERMS['colour_distill'].target == 'teacher_output'
    opt = tiny_options(str(tmp_path), [dict(name='colour', iters=1, losses=['pixel', 'colour_distill'])],
                       colour_distill_opt=dict(type='LowFrequencyL1Loss', scale=4, loss_weight=2.0))
    model = build_model(training_opt(opt, str(tmp_path), train_type='PairedImageDataset'))
    data = batch(0)
    with torch.no_grad():
        criterion = LowFrequencyL1Loss(scale=4, loss_weight=2.0)
        expected = criterion(model.net_g(data['lq']), model.net_g_teacher(data['lq']))
    model.feed_data(data)
    model.optimize_parameters(1)
    assert [k for k in model.log_dict if k.startswith('l_g_')] == ['l_g_pix', 'l_g_colour_distill', 'l_g_total']
    assert model.log_dict['l_g_colour_distill'] == pytest.approx(expected.item(), rel=1e-5)
