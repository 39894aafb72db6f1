"""RRDBNet that predicts the difference to the bicubic upscaling of its input."""
import torch.nn.functional as F
from torch import nn

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class RRDBNetBicubicSkip(RRDBNet):
    """BasicSR's RRDBNet plus the bicubic upscaling of its input: the network learns only what bicubic misses.

    A plain RRDBNet has to learn the identity colour mapping from its photos before it learns the details; a
    briefly trained one compresses the tonal range (dark highlights, lifted shadows) and its colours follow the
    training photos. With the skip, the colours and tones of the input are there from the first iteration. The
    layers and their names are RRDBNet's, so feature distillation taps the same ``body.<i>`` and ``conv_body``,
    and a width-scaled student has the MACs of the same RRDBNet plus the bicubic interpolation.

    Args (YAML ``network_g``, besides RRDBNet's ``num_in_ch``, ``num_out_ch``, ``scale``, ``num_feat``,
    ``num_block``, ``num_grow_ch``):
        zero_init_last (bool): Start ``conv_last`` at zero, so that the untrained network is exactly bicubic
            upscaling. Default: True.
    """

    def __init__(self, num_in_ch, num_out_ch, scale=4, num_feat=64, num_block=23, num_grow_ch=32,
                 zero_init_last=True):
        if num_in_ch != num_out_ch:
            raise ValueError(f'RRDBNetBicubicSkip: num_in_ch ({num_in_ch}) must equal num_out_ch ({num_out_ch}); '
                             'the bicubic upscaling of the input is added to the output.')
        super().__init__(num_in_ch, num_out_ch, scale=scale, num_feat=num_feat, num_block=num_block,
                         num_grow_ch=num_grow_ch)
        if zero_init_last:
            nn.init.zeros_(self.conv_last.weight)
            nn.init.zeros_(self.conv_last.bias)

    def forward(self, x):
        upscaled = F.interpolate(x, scale_factor=self.scale, mode='bicubic', align_corners=False)
        return super().forward(x) + upscaled
