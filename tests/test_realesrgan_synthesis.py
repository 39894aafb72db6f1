"""Real-ESRGAN degradation pieces that run on any device and resume exactly."""
import torch

import sdakd_basicsr  # noqa: F401
from basicsr.utils import USMSharp
from basicsr.utils.img_process_util import filter2D
from helpers import TINY_REALESRGAN_YML, load_yaml
from sdakd_basicsr.data.realesrgan_synthesis import RealESRGANPairSynthesizer, SeparableUSMSharp


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
