"""Colour distillation: the student's low frequencies against the teacher's, as stage loss ``colour_distill``.

A per-pixel L1 to a textured target gives every pixel a gradient of the same size whatever its error, so a
uniform offset of a few grey levels under texture errors ten times larger is corrected slowly: a young student
keeps a colour cast against its teacher (docs/results.md). Comparing ``scale`` x ``scale`` block means instead
leaves the texture out, and what remains is the colour and brightness of each block.
"""
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import LOSS_REGISTRY

from sdakd_basicsr.losses.terms import register_loss_term


@LOSS_REGISTRY.register()
class LowFrequencyL1Loss(nn.Module):
    """L1 distance between the ``scale`` x ``scale`` block means of two images.

    Args:
        scale (int): Side of the averaged blocks in pixels (8: a 128 px patch is compared as 16 x 16 block
            means). Rows and columns beyond the last whole block are left out. Default: 8.
        loss_weight (float): Weight of the loss. Default: 1.0.
    """

    def __init__(self, scale=8, loss_weight=1.0):
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f'colour_distill_opt.scale={scale!r}: a whole number of pixels >= 1')
        self.scale = scale
        self.loss_weight = loss_weight

    def forward(self, pred, target):
        if min(pred.shape[-2:]) < self.scale:
            raise ValueError(f'LowFrequencyL1Loss: images of {tuple(pred.shape[-2:])} px are smaller than one '
                             f'block of scale={self.scale}')
        return self.loss_weight * F.l1_loss(F.avg_pool2d(pred, self.scale), F.avg_pool2d(target, self.scale))


# stages switch it on with `losses: [..., colour_distill]`; options `train.colour_distill_opt`; the target is the
# teacher's image for the same input; logged as l_g_colour_distill
register_loss_term('colour_distill', 'colour_distill_opt', 'teacher_output')
