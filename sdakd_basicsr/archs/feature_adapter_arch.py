"""Feature adapters: per-layer maps from student feature channels to teacher feature channels (SDAKD's MLPs)."""
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY

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
            raise ValueError(f'network_feat_adapters.activation={activation!r}: choose one of {sorted(_ACTIVATIONS)}')
        hidden = hidden_channels or out_channels
        return nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1), _ACTIVATIONS[activation](), nn.Conv2d(hidden, out_channels, 1))
    raise ValueError(f"network_feat_adapters.adapter={kind!r}: choose 'mlp' (SDAKD) or 'conv1x1' (GAN Compression)")


@ARCH_REGISTRY.register()
class FeatureAdapters(nn.Module):
    """One adapter per distilled layer pair; trained with the student generator, not needed for inference.

    Built by ``SDAKDModel`` from the optional ``network_feat_adapters`` block; the channel counts are found by
    one probe forward pass of student and teacher, so they are not written in YAML.

    Args:
        student_channels (list[int]): Channels of each tapped student feature (filled in by the model).
        teacher_channels (list[int]): Channels of the matching teacher features (filled in by the model).
        adapter (str): ``mlp`` (SDAKD, default) or ``conv1x1`` (GAN Compression's single 1×1 conv).
        hidden_channels (int | None): Hidden width of the MLP. Default: the teacher's channels.
        activation (str): MLP activation: ``relu`` (default), ``lrelu`` or ``gelu``.
    """

    def __init__(self, student_channels, teacher_channels, adapter='mlp', hidden_channels=None, activation='relu'):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError('feature adapters: student and teacher layer lists must have the same length')
        self.adapters = nn.ModuleList(
            build_adapter(adapter, c_s, c_t, hidden_channels, activation)
            for c_s, c_t in zip(student_channels, teacher_channels))

    def forward(self, student_features):
        """Student features mapped to the teacher's channel counts, layer by layer."""
        return [adapter(f_s) for adapter, f_s in zip(self.adapters, student_features)]
