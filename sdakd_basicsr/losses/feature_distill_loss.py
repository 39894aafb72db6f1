"""Feature-map distillation with learned per-layer adapters (SDAKD stages 2 and 3)."""
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import LOSS_REGISTRY

_CRITERIA = {'l1': F.l1_loss, 'mse': F.mse_loss}
_ACTIVATIONS = {'relu': nn.ReLU, 'lrelu': lambda: nn.LeakyReLU(0.2), 'gelu': nn.GELU}


def build_adapter(kind, in_channels, out_channels, hidden_channels=None, activation='relu'):
    """Student→teacher channel adapter applied to every pixel.

    ``mlp`` (SDAKD default): 1×1 conv C_s→C_h, activation, 1×1 conv C_h→C_t, with C_h = C_t unless given.
    ``conv1x1`` (GAN Compression's adaptor, the baseline): a single 1×1 conv C_s→C_t.
    """
    if kind == 'conv1x1':
        return nn.Conv2d(in_channels, out_channels, 1)
    if kind == 'mlp':
        if activation not in _ACTIVATIONS:
            raise ValueError(f'distill_opt.activation={activation!r}: choose one of {sorted(_ACTIVATIONS)}')
        hidden = hidden_channels or out_channels
        return nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), _ACTIVATIONS[activation](), nn.Conv2d(hidden, out_channels, 1))
    raise ValueError(f"distill_opt.adapter={kind!r}: choose 'mlp' (SDAKD) or 'conv1x1' (GAN Compression)")


@LOSS_REGISTRY.register()
class FeatureMapDistillLoss(nn.Module):
    """Distance between adapted student feature maps and detached teacher feature maps, averaged over layers.

    The adapters are trained together with the student generator and dropped at export.

    Args:
        student_channels (list[int]): Channels of each tapped student feature (filled in by the model).
        teacher_channels (list[int]): Channels of the matching teacher features (filled in by the model).
        adapter (str): ``mlp`` (default) or ``conv1x1``.
        hidden_channels (int | None): Hidden width of the MLP adapter. Default: teacher channels.
        activation (str): MLP activation: ``relu`` (default), ``lrelu`` or ``gelu``.
        criterion (str): ``l1`` (default) or ``mse``.
        loss_weight (float): Weight of the averaged loss. Default: 1.0.
        layers (list[str] | None): Module names tapped in both networks (read by the model, not used here).
        student_layers / teacher_layers (list[str] | None): Different names per network, same length.
    """

    def __init__(self, student_channels, teacher_channels, adapter='mlp', hidden_channels=None, activation='relu',
                 criterion='l1', loss_weight=1.0, layers=None, student_layers=None, teacher_layers=None):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError('distill_opt: student and teacher layer lists must have the same length')
        if criterion not in _CRITERIA:
            raise ValueError(f'distill_opt.criterion={criterion!r}: choose one of {sorted(_CRITERIA)}')
        self.criterion = _CRITERIA[criterion]
        self.loss_weight = loss_weight
        self.adapters = nn.ModuleList(
            build_adapter(adapter, c_s, c_t, hidden_channels, activation)
            for c_s, c_t in zip(student_channels, teacher_channels))

    def forward(self, student_features, teacher_features):
        losses = []
        for adapter, f_s, f_t in zip(self.adapters, student_features, teacher_features):
            if f_s.shape[-2:] != f_t.shape[-2:]:
                raise RuntimeError(f'feature distillation needs equal spatial sizes, got student {tuple(f_s.shape)} '
                                   f'and teacher {tuple(f_t.shape)}; tap layers at matching resolutions')
            losses.append(self.criterion(adapter(f_s), f_t.detach()))
        return self.loss_weight * torch.stack(losses).mean()
