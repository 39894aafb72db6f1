"""Real-ESRGAN degradation pieces that run on any device and resume exactly."""
import pytest
import torch

import sdakd_basicsr  # noqa: F401
from basicsr.utils import USMSharp
from basicsr.utils.img_process_util import filter2D
from helpers import TINY_REALESRGAN_YML, load_yaml
from sdakd_basicsr.data.realesrgan_synthesis import (RealESRGANPairSynthesizer, SeparableUSMSharp,
                                                     smallest_degrade_crop)


def test_separable_unsharp_mask_matches_basicsr():
    img = torch.rand(2, 3, 80, 72, generator=torch.Generator().manual_seed(0))
    ours, theirs = SeparableUSMSharp(), USMSharp()
    assert torch.allclose(ours._blur(img), filter2D(img, theirs.kernel), atol=1e-5)
    diff = (ours(img) - theirs(img)).abs()
    assert diff.max() < 2e-3 and diff.mean() < 1e-5  # only pixels right at the mask threshold may differ


def test_pair_queue_mixes_batches_and_round_trips_its_state():
    opt = load_yaml(TINY_REALESRGAN_YML)
    synth = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    g = torch.Generator().manual_seed(0)
    seen = []
    for _ in range(3):  # queue of 4, batches of 2: fills, then swaps
        synth.lq, synth.gt = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 32, 32, generator=g)
        seen.append(synth.gt.clone())
        synth._dequeue_and_enqueue()
    assert synth.queue_ptr == 4
    assert any(torch.equal(synth.gt[i], old[j]) for old in seen[:2] for i in range(2) for j in range(2))
    state = synth.state_dict()
    again = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    again.load_state_dict(state)
    assert torch.equal(again.queue_gt, synth.queue_gt) and again.queue_ptr == synth.queue_ptr


def _tile_batch(size, batch=2, seed=0):
    """GT tiles with identity blur kernels, as RealESRGANDataset would hand them over."""
    g = torch.Generator().manual_seed(seed)
    delta = torch.zeros(batch, 21, 21)
    delta[:, 10, 10] = 1
    return {'gt': torch.rand(batch, 3, size, size, generator=g), 'kernel1': delta, 'kernel2': delta.clone(),
            'sinc_kernel': delta.clone()}


def test_crop_before_degrading_degrades_only_the_crop_and_keeps_patch_size():
    opt = dict(load_yaml(TINY_REALESRGAN_YML), degrade_crop_size=None)
    gt_size, scale = opt['gt_size'], opt['scale']
    opt['degrade_crop_size'] = smallest_degrade_crop(opt)
    synth = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    seen = []
    sharpen = synth.usm_sharpener.forward
    synth.usm_sharpener.forward = lambda img, *a, **k: seen.append(tuple(img.shape[-2:])) or sharpen(img, *a, **k)
    data = _tile_batch(200)
    lq, gt, _ = synth(data)
    assert seen[0] == (opt['degrade_crop_size'], ) * 2  # the degradation ran on the crop, not the 200 px tile
    assert tuple(gt.shape[-2:]) == (gt_size, gt_size) and tuple(lq.shape[-2:]) == (gt_size // scale, ) * 2
    tile = data['gt'][0]  # the queue is still filling: the patch is a window of the original tile
    windows = tile.unfold(1, gt_size, 1).unfold(2, gt_size, 1)
    assert (windows == gt[0][:, None, None]).flatten(3).all(-1).all(0).any()


def test_the_smallest_crop_survives_the_strongest_downscale(monkeypatch):
    import numpy as np
    from basicsr.models import realesrgan_model
    opt = dict(load_yaml(TINY_REALESRGAN_YML), resize_prob=[0, 1, 0], second_blur_prob=1.0)
    # every uniform draw at its lower bound: the first resize goes down to resize_range[0]
    monkeypatch.setattr(realesrgan_model.np.random, 'uniform', lambda low=0.0, high=1.0, size=None: np.float64(low))
    for size, survives in ((opt['gt_size'] + 8 * opt['scale'], False), (smallest_degrade_crop(opt), True)):
        synth = RealESRGANPairSynthesizer(dict(opt, degrade_crop_size=None), torch.device('cpu'))
        synth.degrade_crop_size = size  # past the option check, to show why it refuses the smaller size
        if survives:
            lq, gt, _ = synth(_tile_batch(200))
            assert tuple(gt.shape[-2:]) == (opt['gt_size'], ) * 2
        else:
            with pytest.raises(RuntimeError, match='Padding size'):
                synth(_tile_batch(200))


def test_crop_before_degrading_rejects_a_size_it_cannot_use():
    opt = load_yaml(TINY_REALESRGAN_YML)
    too_small_for_the_blur = opt['gt_size'] + 8 * opt['scale']  # 64: 0.15 of it is 9 px, under the 10 px padding
    for bad in (opt['gt_size'] - opt['scale'], smallest_degrade_crop(opt) + 1, too_small_for_the_blur, 'big'):
        with pytest.raises(ValueError, match='degrade_crop_size'):
            RealESRGANPairSynthesizer(dict(opt, degrade_crop_size=bad), torch.device('cpu'))


def test_channel_shuffle_reorders_whole_tiles_and_is_checked():
    import random
    opt = dict(load_yaml(TINY_REALESRGAN_YML), channel_shuffle_prob=1.0)
    synth = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    gt = torch.stack([torch.stack([torch.full((8, 8), v) for v in (0.1, 0.5, 0.9)])] * 32)  # R, G, B constant
    random.seed(0)
    shuffled = synth.shuffle_channels({'gt': gt})['gt']
    orders = {tuple(round(float(tile[c, 0, 0]), 1) for c in range(3)) for tile in shuffled}
    assert (0.1, 0.5, 0.9) not in orders and len(orders) == 5  # every other order, each tile as a whole
    assert all(len(set(tile[c].flatten().tolist())) == 1 for tile in shuffled for c in range(3))
    assert torch.equal(gt[0], torch.stack([torch.full((8, 8), v) for v in (0.1, 0.5, 0.9)]))  # input untouched
    synth.channel_shuffle_prob = 0
    assert synth.shuffle_channels({'gt': gt})['gt'] is gt
    with pytest.raises(ValueError, match='channel_shuffle_prob=1.5'):
        RealESRGANPairSynthesizer(dict(opt, channel_shuffle_prob=1.5), torch.device('cpu'))


def test_hue_rotation_matrix_keeps_greys_and_turns_channels_at_120_degrees():
    import math
    from sdakd_basicsr.data.realesrgan_synthesis import hue_rotation_matrix
    rgb = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    assert torch.allclose(hue_rotation_matrix(2 * math.pi / 3) @ rgb, rgb[[2, 0, 1]])
    assert torch.allclose(hue_rotation_matrix(4 * math.pi / 3) @ rgb, rgb[[1, 2, 0]])
    grey = torch.full((3, ), 0.4, dtype=torch.float64)
    for angle in (0.3, 1.0, 2.5):
        matrix = hue_rotation_matrix(angle)
        assert torch.allclose(matrix @ grey, grey)
        assert torch.allclose((matrix @ rgb).mean(), rgb.mean())  # brightness kept
        assert torch.allclose((matrix @ rgb - 0.5).norm(), (rgb - 0.5).norm())  # saturation kept
        assert not torch.allclose(matrix @ rgb, rgb)
        saturated = hue_rotation_matrix(angle, 1.5) @ rgb
        assert torch.allclose(saturated.mean(), rgb.mean())
        assert torch.allclose((saturated - saturated.mean()).norm(), 1.5 * (rgb - rgb.mean()).norm())
    assert torch.allclose(hue_rotation_matrix(1.0, 0.0) @ rgb, torch.full((3, ), 0.5, dtype=torch.float64))


def test_hue_rotation_turns_whole_tiles_by_different_angles_and_is_checked():
    import random
    opt = dict(load_yaml(TINY_REALESRGAN_YML), hue_rotation_prob=1.0)
    synth = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    tile = torch.stack([torch.full((8, 8), v) for v in (0.3, 0.5, 0.7)])  # a weak blue: no clipping at any angle
    gt = torch.stack([tile] * 16)
    random.seed(0)
    rotated = synth.rotate_hues({'gt': gt})['gt']
    colours = {tuple(round(float(t[c, 0, 0]), 3) for c in range(3)) for t in rotated}
    assert len(colours) == 16  # a different angle per tile
    assert all(torch.equal(t, t[:, :1, :1].expand_as(t)) for t in rotated)  # each tile turned as a whole
    assert torch.allclose(rotated.mean(1), gt.mean(1), atol=1e-6)  # brightness kept
    assert torch.equal(gt[0], tile)  # input untouched
    synth.hue_rotation_prob = 0
    assert synth.rotate_hues({'gt': gt})['gt'] is gt
    with pytest.raises(ValueError, match='hue_rotation_prob=-0.1'):
        RealESRGANPairSynthesizer(dict(opt, hue_rotation_prob=-0.1), torch.device('cpu'))
    for bad in ([1.5, 0.5], [-0.1, 1], 2, [1, 'x']):
        with pytest.raises(ValueError, match='saturation_range='):
            RealESRGANPairSynthesizer(dict(opt, saturation_range=bad), torch.device('cpu'))
    with pytest.raises(ValueError, match='set hue_rotation_prob too'):  # it would do nothing on its own
        RealESRGANPairSynthesizer(dict(opt, hue_rotation_prob=0, saturation_range=[0.5, 1.5]), torch.device('cpu'))


def test_saturation_range_scales_turned_tiles_and_draws_nothing_when_fixed():
    import random
    opt = dict(load_yaml(TINY_REALESRGAN_YML), hue_rotation_prob=1.0)
    tile = torch.stack([torch.full((8, 8), v) for v in (0.4, 0.5, 0.6)])
    gt = torch.stack([tile] * 16)

    def chroma(tiles):
        return (tiles - tiles.mean(1, keepdim=True)).norm(dim=1)[:, 0, 0]

    random.seed(0)
    kept = RealESRGANPairSynthesizer(opt, torch.device('cpu')).rotate_hues({'gt': gt})['gt']
    after_fixed = random.random()
    random.seed(0)
    for _ in range(2 * len(gt)):  # per tile: whether to turn it, the angle
        random.random()
    assert random.random() == after_fixed  # a fixed saturation draws nothing more: older runs repeat bit for bit
    assert torch.allclose(chroma(kept), chroma(gt), atol=1e-6)
    random.seed(0)
    scaled = RealESRGANPairSynthesizer(dict(opt, saturation_range=[0.5, 2]), torch.device('cpu')).rotate_hues(
        {'gt': gt})['gt']
    factors = chroma(scaled) / chroma(gt)
    assert factors.min() >= 0.5 - 1e-4 and factors.max() <= 2 + 1e-4 and factors.std() > 0.1
    assert torch.allclose(scaled.mean(1), gt.mean(1), atol=1e-6)  # brightness kept (no clipping at these values)


def test_clean_pairs_take_the_bicubic_downscale_of_their_gt_and_are_checked():
    import random
    from basicsr.utils.matlab_functions import imresize
    opt = dict(load_yaml(TINY_REALESRGAN_YML), clean_pair_prob=1.0)
    synth = RealESRGANPairSynthesizer(opt, torch.device('cpu'))
    random.seed(0)
    lq, gt, _ = synth(_tile_batch(200))
    scale = opt['scale']
    for i in range(gt.shape[0]):
        expected = (imresize(gt[i], 1 / scale).clamp(0, 1) * 255).round() / 255
        assert torch.equal(lq[i], expected)
    degraded = RealESRGANPairSynthesizer(dict(opt, clean_pair_prob=0), torch.device('cpu'))
    random.seed(0)
    lq_degraded, gt_degraded, _ = degraded(_tile_batch(200))
    assert torch.equal(gt_degraded, gt) and not torch.equal(lq_degraded, lq)  # same patches, other inputs
    half = RealESRGANPairSynthesizer(dict(opt, clean_pair_prob=0.5), torch.device('cpu'))
    random.seed(1)
    many = half.clean_pairs(torch.zeros(64, 3, 4, 4), torch.ones(64, 3, 16, 16))
    assert 10 < int((many.flatten(1).amax(1) > 0).sum()) < 54  # about half the pairs replaced
    for bad in (1.5, -0.1, 'often', True):
        with pytest.raises(ValueError, match='clean_pair_prob='):
            RealESRGANPairSynthesizer(dict(opt, clean_pair_prob=bad), torch.device('cpu'))
