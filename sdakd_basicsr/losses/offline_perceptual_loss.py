"""BasicSR's perceptual loss, loading ImageNet VGG weights from a local file and never downloading."""
import os

import basicsr.archs.vgg_arch as vgg_arch
from basicsr.losses.basic_loss import PerceptualLoss
from basicsr.utils.registry import LOSS_REGISTRY

#: file names torchvision publishes its ImageNet VGG weights under
VGG_WEIGHT_FILES = {
    'vgg11': 'vgg11-8a719046.pth',
    'vgg13': 'vgg13-19584684.pth',
    'vgg16': 'vgg16-397923af.pth',
    'vgg19': 'vgg19-dcbb9e9d.pth',
}
DEFAULT_VGG_DIR = os.path.join('experiments', 'pretrained_models')


def default_vgg_weights_path(vgg_type):
    """``experiments/pretrained_models/<torchvision file name>``, relative to the working directory."""
    base = vgg_type.replace('_bn', '')
    if base not in VGG_WEIGHT_FILES:
        raise ValueError(f'perceptual_opt.vgg_type={vgg_type!r}: choose one of {sorted(VGG_WEIGHT_FILES)}')
    return os.path.join(DEFAULT_VGG_DIR, VGG_WEIGHT_FILES[base])


@LOSS_REGISTRY.register()
class OfflinePerceptualLoss(PerceptualLoss):
    """``PerceptualLoss`` with an explicit VGG weight file (works for vgg16 too, never downloads).

    BasicSR's own extractor looks for ``vgg19-dcbb9e9d.pth`` whatever ``vgg_type`` is and downloads when it is
    missing. This subclass takes the same options plus:

    Args:
        vgg_weights_path (str | None): torchvision ImageNet VGG state dict. Default:
            ``experiments/pretrained_models/vgg19-dcbb9e9d.pth`` (vgg19) or ``vgg16-397923af.pth`` (vgg16),
            relative to the working directory.
    """

    def __init__(self, layer_weights, vgg_type='vgg19', vgg_weights_path=None, **kwargs):
        path = vgg_weights_path or default_vgg_weights_path(vgg_type)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f'perceptual loss: ImageNet {vgg_type} weights not found at {os.path.abspath(path)}. Put '
                f"torchvision's {os.path.basename(default_vgg_weights_path(vgg_type))} there (or set "
                'perceptual_opt.vgg_weights_path); nothing is downloaded at run time.')
        saved = vgg_arch.VGG_PRETRAIN_PATH
        vgg_arch.VGG_PRETRAIN_PATH = path  # read by VGGFeatureExtractor's constructor only
        try:
            super().__init__(layer_weights, vgg_type=vgg_type, **kwargs)
        finally:
            vgg_arch.VGG_PRETRAIN_PATH = saved
