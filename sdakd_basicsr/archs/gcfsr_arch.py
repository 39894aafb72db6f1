"""GCFSR (He et al., "GCFSR: a Generative and Controllable Face Super Resolution Method Without Facial and GAN
Priors", CVPR 2022) in plain PyTorch, with a width knob for distillation students.

The StyleGAN2 building blocks are re-implemented here without compiled extensions (BasicSR's versions call
``fused_act_ext`` / ``upfirdn2d_ext``, which a pip install does not build), so everything runs on CPU and GPU.
Module names follow the official implementation, so at ``narrow=1`` the state-dict keys and shapes are exactly
the official ones and released checkpoints (e.g. the bare ``gcfsr_blind_512.pth``) load with ``strict=True``.

Registered names (chosen not to collide with BasicSR, Real-ESRGAN, GFPGAN or upstream GCFSR):
``GCFSRGenerator`` (upstream ``GCFSR``), ``GCFSRBlindGenerator`` (``GCFSR_blind``) and ``GCFSRDiscriminator``
(``StyleGAN2Discriminator_no_std``).
"""
import math
from fractions import Fraction

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY

_SQRT2 = math.sqrt(2.0)
_MIN_SIZE, _MAX_SIZE = 64, 1024


# ----------------------------------------------------------------------------------------------------------
# plain-torch replacements of StyleGAN2's compiled ops
# ----------------------------------------------------------------------------------------------------------
def fused_leaky_relu(x, bias, negative_slope=0.2, scale=_SQRT2):
    """Add a per-channel bias, leaky ReLU, multiply by ``scale`` (StyleGAN2's fused activation)."""
    shape = (1, -1) + (1, ) * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope) * scale


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Zero-insertion upsampling, 2-D FIR filtering and decimation of every channel of ``x``.

    Args:
        x (Tensor): (b, c, h, w).
        kernel (Tensor): (kh, kw) filter, applied as a true convolution (flipped).
        up (int): upsampling factor (``up - 1`` zeros after every sample).
        down (int): keep every ``down``-th output sample.
        pad (tuple[int, int]): padding before/after the signal, the same on both axes (negative crops).

    Returns:
        Tensor: (b, c, (h*up + pad0 + pad1 - kh) // down + 1, ...).
    """
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = torch.flip(kernel, [0, 1]).to(x.dtype)
    weight = weight.expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=down, groups=c)


def make_resample_kernel(taps):
    """Normalised 2-D FIR kernel (outer product of the 1-D taps, summing to one)."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.dim() == 1:
        k = k[:, None] * k[None, :]
    return k / k.sum()


class UpFirDn(nn.Module):
    """Parameter-free resampling filter (the kernel is a non-persistent buffer: not in the state dict).

    Args:
        resample_kernel (sequence[int]): 1-D taps of the FIR filter.
        pad (tuple[int, int]): padding before/after.
        up (int): upsampling factor.
        down (int): downsampling factor.
        gain (float): kernel multiplier (``factor**2`` after zero insertion keeps the signal's level).
    """

    def __init__(self, resample_kernel, pad, up=1, down=1, gain=1.0):
        super().__init__()
        self.register_buffer('kernel', make_resample_kernel(resample_kernel) * gain, persistent=False)
        self.pad, self.up, self.down = tuple(pad), up, down

    def forward(self, x):
        return upfirdn2d(x, self.kernel, self.up, self.down, self.pad)

    def extra_repr(self):
        return f'up={self.up}, down={self.down}, pad={self.pad}'


def _blur_after_transposed_conv(resample_kernel, kernel_size):
    """Smoothing that follows a stride-2 transposed conv (upsampling modulated conv)."""
    p = (len(resample_kernel) - 2) - (kernel_size - 1)
    return UpFirDn(resample_kernel, ((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)


def _blur_before_strided_conv(resample_kernel, kernel_size):
    """Smoothing that precedes a stride-2 conv (downsampling ConvLayer)."""
    p = (len(resample_kernel) - 2) + (kernel_size - 1)
    return UpFirDn(resample_kernel, ((p + 1) // 2, p // 2))


def _upsample_x2(resample_kernel):
    """FIR ×2 upsampling of the RGB skip path."""
    p = len(resample_kernel) - 2
    return UpFirDn(resample_kernel, ((p + 1) // 2 + 1, p // 2), up=2, gain=4.0)


# ----------------------------------------------------------------------------------------------------------
# StyleGAN2 layers with equalised learning rate
# ----------------------------------------------------------------------------------------------------------
class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2) × √2; the bias parameter is named ``bias`` as in the official checkpoints."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class ScaledLeakyReLU(nn.Module):
    """Leaky ReLU × √2 without bias."""

    def __init__(self, negative_slope=0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope) * _SQRT2


class EqualLinear(nn.Module):
    """Linear layer whose weight is scaled at run time by ``lr_mul / sqrt(in_features)``.

    Args:
        in_channels (int): input features.
        out_channels (int): output features.
        bias (bool): learn an additive bias.
        bias_init_val (float): initial bias value.
        lr_mul (float): learning-rate multiplier.
        activation (str | None): ``'fused_lrelu'`` or None.
    """

    def __init__(self, in_channels, out_channels, bias=True, bias_init_val=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        if activation not in ('fused_lrelu', None):
            raise ValueError(f"EqualLinear activation must be 'fused_lrelu' or None, got {activation!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.lr_mul, self.activation = lr_mul, activation
        self.scale = lr_mul / math.sqrt(in_channels)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_channels, ), float(bias_init_val))) if bias else None

    def forward(self, x):
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation == 'fused_lrelu':
            out = F.linear(x, self.weight * self.scale)
            return out if bias is None else fused_leaky_relu(out, bias)
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self):
        return f'{self.in_channels}, {self.out_channels}, bias={self.bias is not None}, activation={self.activation}'


class EqualConv2d(nn.Module):
    """Conv2d whose weight is scaled at run time by ``1 / sqrt(fan_in)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, bias_init_val=0.0):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding = stride, padding
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.full((out_channels, ), float(bias_init_val))) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self):
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, bias={self.bias is not None}')


class ConvLayer(nn.Sequential):
    """[blur] → EqualConv2d → [activation]; a Sequential so that keys read ``<name>.<index>.weight``.

    Args:
        in_channels (int), out_channels (int), kernel_size (int).
        downsample (bool): blur, then stride-2 conv.
        resample_kernel (sequence[int]): blur taps.
        bias (bool): learn a bias (inside the activation when ``activate``).
        activate (bool): fused leaky ReLU (with bias) or scaled leaky ReLU (without).
    """

    def __init__(self, in_channels, out_channels, kernel_size, downsample=False, resample_kernel=(1, 3, 3, 1),
                 bias=True, activate=True):
        layers = []
        if downsample:
            layers.append(_blur_before_strided_conv(resample_kernel, kernel_size))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated (and optionally demodulated) conv, one weight per sample via grouped conv.

    Args:
        in_channels (int), out_channels (int), kernel_size (int).
        num_style_feat (int): style vector size.
        demodulate (bool): normalise each output filter to unit norm.
        sample_mode (str | None): ``'upsample'`` (×2, transposed conv then blur) or None.
        resample_kernel (sequence[int]): blur taps for upsampling.
        eps (float): added before the reciprocal square root of demodulation (computed in fp32 for any dtype).
    """

    def __init__(self, in_channels, out_channels, kernel_size, num_style_feat, demodulate=True, sample_mode=None,
                 resample_kernel=(1, 3, 3, 1), eps=1e-8):
        super().__init__()
        if sample_mode not in ('upsample', None):
            raise ValueError(f"ModulatedConv2d sample_mode must be 'upsample' or None, got {sample_mode!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.sample_mode, self.eps = demodulate, sample_mode, eps
        if sample_mode == 'upsample':
            self.smooth = _blur_after_transposed_conv(resample_kernel, kernel_size)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.modulation = EqualLinear(num_style_feat, in_channels, bias=True, bias_init_val=1.0)
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))

    def forward(self, x, style):
        b, c, h, w = x.shape
        k, c_out = self.kernel_size, self.out_channels
        weight = self.weight * self.scale * self.modulation(style).view(b, 1, c, 1, 1)  # (b, c_out, c, k, k)
        if self.demodulate:
            # in fp32: in fp16 the squares of small weights and the eps underflow to 0 (rsqrt -> inf), large ones
            # overflow; bf16 would lose the norm's precision
            weight32 = weight.float()
            norm = weight32.pow(2).sum(dim=(2, 3, 4), keepdim=True)
            weight = (weight32 * torch.rsqrt(norm + self.eps)).to(weight.dtype)
        x = x.reshape(1, b * c, h, w)
        if self.sample_mode == 'upsample':
            # conv_transpose2d takes (in, out, k, k) per group
            weight = weight.transpose(1, 2).reshape(b * c, c_out, k, k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=b)
            return self.smooth(out.view(b, c_out, *out.shape[2:]))
        out = F.conv2d(x, weight.reshape(b * c_out, c, k, k), padding=k // 2, groups=b)
        return out.view(b, c_out, *out.shape[2:])

    def extra_repr(self):
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
                f'demodulate={self.demodulate}, sample_mode={self.sample_mode}')


class StyleConv(nn.Module):
    """Modulated conv → noise injection (learned strength ``weight``) → fused leaky ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, num_style_feat, demodulate=True, sample_mode=None,
                 resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_channels, out_channels, kernel_size, num_style_feat, demodulate,
                                              sample_mode, resample_kernel)
        self.weight = nn.Parameter(torch.zeros(1))
        self.activate = FusedLeakyReLU(out_channels)

    def _modulate_and_noise(self, x, style, noise):
        out = self.modulated_conv(x, style)
        if noise is None:
            noise = out.new_empty(out.shape[0], 1, *out.shape[2:]).normal_()
        return out + self.weight * noise

    def forward(self, x, style, noise=None):
        return self.activate(self._modulate_and_noise(x, style, noise))


class StyleConvFuse(StyleConv):
    """GCFSR's StyleConv that blends in an encoder feature before the activation.

    ``out · ŝ1 + shift · ŝ2`` with (ŝ1, ŝ2) the two per-channel condition scales jointly L2-normalised, so that
    the scale condition trades the generated feature against the encoder feature. Same parameters as StyleConv.
    """

    def forward(self, x, style, noise=None, scale1=None, scale2=None, shift=None):
        out = self._modulate_and_noise(x, style, noise)
        scale1, scale2 = scale1.float(), scale2.float()  # fp32 for the same reason as the demodulation
        inv_norm = torch.rsqrt(scale1.pow(2) + scale2.pow(2) + 1e-8)
        c = out.shape[1]
        w1, w2 = ((scale * inv_norm).to(out.dtype).view(-1, c, 1, 1) for scale in (scale1, scale2))
        out = out * w1 + shift * w2
        return self.activate(out)


class ToRGB(nn.Module):
    """1×1 modulated conv to RGB (no demodulation) + bias, added to the ×2-upsampled previous RGB."""

    def __init__(self, in_channels, num_style_feat, upsample=True, resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.upsample = _upsample_x2(resample_kernel) if upsample else None
        self.modulated_conv = ModulatedConv2d(in_channels, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            out = out + (self.upsample(skip) if self.upsample is not None else skip)
        return out


class ResBlock(nn.Module):
    """StyleGAN2 discriminator block: two convs (the second halves the size) plus a 1×1 skip, averaged by √2."""

    def __init__(self, in_channels, out_channels, resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, resample_kernel=resample_kernel)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, resample_kernel=resample_kernel,
                              bias=False, activate=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / _SQRT2


# ----------------------------------------------------------------------------------------------------------
# argument checks and the channel table
# ----------------------------------------------------------------------------------------------------------
_BASE_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512}
_MULTIPLIED_CHANNELS = {64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}  # times channel_multiplier


def check_out_size(owner, out_size):
    """Return ``out_size`` as int after checking it is a power of two in [64, 1024]."""
    if isinstance(out_size, bool) or not isinstance(out_size, (int, float)) or int(out_size) != out_size:
        raise ValueError(f'{owner}: out_size must be an integer power of two in [{_MIN_SIZE}, {_MAX_SIZE}], '
                         f'got {out_size!r}')
    out_size = int(out_size)
    if out_size < _MIN_SIZE or out_size > _MAX_SIZE or out_size & (out_size - 1):
        raise ValueError(f'{owner}: out_size must be a power of two in [{_MIN_SIZE}, {_MAX_SIZE}] '
                         f'(64, 128, 256, 512 or 1024), got {out_size}')
    return out_size


def channel_table(owner, out_size, channel_multiplier=2, narrow=1):
    """Channels per resolution 4 … out_size; each must be a positive integer.

    Args:
        owner (str): class name for error messages.
        out_size (int): largest resolution.
        channel_multiplier (int): widens the 64 … 1024 px stages.
        narrow (float): width factor of every stage (1 = official width; 0.5, 0.25, 0.125 = students).

    Returns:
        dict[int, int]: resolution → channels.
    """
    for name, value in (('narrow', narrow), ('channel_multiplier', channel_multiplier)):
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or not value > 0:
            raise ValueError(f'{owner}: {name} must be a positive number, got {value!r}')
    table = {}
    for res in sorted({**_BASE_CHANNELS, **_MULTIPLIED_CHANNELS}):
        if res > out_size:
            break
        base = _BASE_CHANNELS.get(res) or _MULTIPLIED_CHANNELS[res] * channel_multiplier
        width = base * narrow
        if abs(width - round(width)) > 1e-6 or round(width) < 1:
            raise ValueError(
                f'{owner}: narrow={narrow} with channel_multiplier={channel_multiplier} gives {width:g} channels at '
                f'{res} px ({base} × narrow); choose narrow so that every stage has a whole number of channels '
                f'(e.g. narrow 1, 0.5, 0.25 or 0.125)')
        table[res] = int(round(width))
    return table


def _check_image(owner, x, out_size):
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f'{owner}: expected an RGB batch of shape (b, 3, {out_size}, {out_size}), got '
                         f'{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}')
    if tuple(x.shape[2:]) != (out_size, out_size):
        raise ValueError(f'{owner}: input is {x.shape[2]}×{x.shape[3]} but the network was built with out_size='
                         f'{out_size}; bicubic-upsample the LR image to {out_size}×{out_size} first (GCFSR works at '
                         f'the output size) or build the network with out_size={x.shape[2]}')


# ----------------------------------------------------------------------------------------------------------
# generators
# ----------------------------------------------------------------------------------------------------------
class _GCFSRBase(nn.Module):
    """Shared body of the scale-conditioned and blind generators (see :class:`GCFSRGenerator`)."""

    #: whether ``forward`` takes the ``in_size`` condition (models use it to call either variant)
    conditional = True

    def __init__(self, out_size, num_style_feat=512, channel_multiplier=2, resample_kernel=(1, 3, 3, 1), narrow=1):
        super().__init__()
        owner = type(self).__name__
        out_size = check_out_size(owner, out_size)
        if isinstance(num_style_feat, bool) or not isinstance(num_style_feat, int) or num_style_feat < 1:
            raise ValueError(f'{owner}: num_style_feat must be a positive integer, got {num_style_feat!r}')
        channels = channel_table(owner, out_size, channel_multiplier, narrow)
        self.out_size, self.num_style_feat, self.narrow = out_size, num_style_feat, narrow
        self.channels = channels
        self.log_size = int(math.log2(out_size))
        self.num_latent = 2 * self.log_size - 6  # 2 per decoder resolution 16 … out_size
        rk = tuple(resample_kernel)

        # encoder: full resolution down to 16 px
        self.conv_body_first = ConvLayer(3, channels[out_size], 3)
        self.conv_body_down = nn.ModuleList()
        in_ch = channels[out_size]
        for res in self._resolutions_desc()[1:]:
            self.conv_body_down.append(ConvLayer(in_ch, channels[res], 3, downsample=True, resample_kernel=rk))
            in_ch = channels[res]

        # latent branch: 16 → 4 px, then one linear layer to all style vectors
        self.final_conv = ConvLayer(channels[16], channels[16], 3)
        self.final_down1 = ConvLayer(channels[16], channels[8], 3, downsample=True, resample_kernel=rk)
        latent_ch = channels[4] if not self.conditional else channels[4] // 2
        self.final_down2 = ConvLayer(channels[8], latent_ch, 3, downsample=True, resample_kernel=rk)
        # input size from the channels (upstream hard-codes the full-width value)
        self.final_linear = EqualLinear(16 * latent_ch, num_style_feat * self.num_latent, activation='fused_lrelu')

        # conditions, ordered from out_size down to 16 px
        self.condition_scale1 = nn.ModuleList()
        self.condition_scale2 = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for res in self._resolutions_desc():
            self.condition_scale1.append(EqualLinear(1, channels[res], bias_init_val=1.0))
            self.condition_scale2.append(EqualLinear(1, channels[res], bias_init_val=1.0))
            self.condition_shift.append(ConvLayer(channels[res], channels[res], 3, activate=False))

        # decoder: 16 px → out_size
        self.style_conv1 = StyleConvFuse(channels[16], channels[16], 3, num_style_feat, resample_kernel=rk)
        self.to_rgb1 = ToRGB(channels[16], num_style_feat, upsample=False, resample_kernel=rk)
        self.num_layers = 2 * (self.log_size - 4) + 1
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        # the released checkpoints hold these buffers at StyleGAN2's sizes (4, 8, 8, 16, ...), i.e. a quarter
        # of the feature size they are used at; kept for strict loading, see ``stored_noise``
        for idx in range(self.num_layers):
            size = 2**((idx + 5) // 2)
            self.noises.register_buffer(f'noise{idx}', torch.randn(1, 1, size, size))
        in_ch = channels[16]
        for res in self._resolutions_desc()[::-1][1:]:
            self.style_convs.append(StyleConv(in_ch, channels[res], 3, num_style_feat, sample_mode='upsample',
                                              resample_kernel=rk))
            self.style_convs.append(StyleConvFuse(channels[res], channels[res], 3, num_style_feat,
                                                  resample_kernel=rk))
            self.to_rgbs.append(ToRGB(channels[res], num_style_feat, upsample=True, resample_kernel=rk))
            in_ch = channels[res]

    def _resolutions_desc(self):
        return [2**i for i in range(self.log_size, 3, -1)]

    def _noise_size(self, idx):
        return 16 * 2**((idx + 1) // 2)

    def make_noise(self, batch=1):
        """Fresh noise maps at the sizes this generator uses (list of ``num_layers`` tensors (batch, 1, s, s))."""
        device = self.final_linear.weight.device
        return [torch.randn(batch, 1, self._noise_size(i), self._noise_size(i), device=device)
                for i in range(self.num_layers)]

    def stored_noise(self):
        """The stored ``noises.noise{i}`` buffers, nearest-upsampled to the sizes they are used at.

        Upstream uses the buffers as they are, which fails for ``randomize_noise=False`` because GCFSR's decoder
        starts at 16 px; upsampling keeps them deterministic and the checkpoint layout unchanged.
        """
        out = []
        for idx in range(self.num_layers):
            buf = getattr(self.noises, f'noise{idx}')
            out.append(F.interpolate(buf, size=self._noise_size(idx), mode='nearest'))
        return out

    def _check_noise(self, noise):
        if len(noise) != self.num_layers:
            raise ValueError(f'{type(self).__name__}: noise must be a list of {self.num_layers} tensors (or None), '
                             f'got {len(noise)}; use make_noise() to create one')
        return list(noise)

    def _generate(self, x, in_size, noise, randomize_noise, return_latents):
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.stored_noise()
        noise = self._check_noise(noise)

        # encoder features and conditions, from out_size down to 16 px
        feat = self.conv_body_first(x)
        scales1, scales2, shifts = [], [], []
        for k in range(len(self.condition_shift)):
            if k > 0:
                feat = self.conv_body_down[k - 1](feat)
            scales1.append(self.condition_scale1[k](in_size))
            scales2.append(self.condition_scale2[k](in_size))
            shifts.append(self.condition_shift[k](feat))
        scales1, scales2, shifts = scales1[::-1], scales2[::-1], shifts[::-1]  # now 16 px first

        b = feat.shape[0]
        latent = self.final_linear(self.final_down2(self.final_down1(feat)).reshape(b, -1))
        latent = latent.view(b, self.num_latent, self.num_style_feat)

        out = self.final_conv(feat)
        out = self.style_conv1(out, latent[:, 0], noise[0], scales1[0], scales2[0], shifts[0])
        skip = self.to_rgb1(out, latent[:, 1])
        for j, (up_conv, fuse_conv, to_rgb) in enumerate(zip(self.style_convs[::2], self.style_convs[1::2],
                                                             self.to_rgbs)):
            i = 2 * j + 1
            out = up_conv(out, latent[:, i], noise[i])
            out = fuse_conv(out, latent[:, i + 1], noise[i + 1], scales1[j + 1], scales2[j + 1], shifts[j + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
        return skip, (latent if return_latents else None)


@ARCH_REGISTRY.register()
class GCFSRGenerator(_GCFSRBase):
    """GCFSR generator conditioned on the upscaling factor (upstream ``GCFSR``).

    An encoder reads the bicubic-upsampled LR face at full resolution down to 16 px; a linear head turns the
    16 px feature into the style vectors of a StyleGAN2-like decoder, whose layers blend in the encoder features
    with per-channel weights predicted from the scale condition ``in_size``.

    Args (YAML ``network_g``):
        out_size (int): output (and input) size, a power of two in [64, 1024]; 512 for the released models.
        num_style_feat (int): style vector size. Default: 512.
        channel_multiplier (int): widens the 64 … 1024 px stages. Default: 2.
        resample_kernel (list[int]): 1-D taps of the up/down-sampling FIR filter. Default: [1, 3, 3, 1].
        narrow (float): width factor of every stage: 1 = official (checkpoint compatible), 0.5 / 0.25 / 0.125
            for distillation students. Default: 1.
    """

    def forward(self, x, in_size=None, noise=None, randomize_noise=True, return_latents=False):
        """Super-resolve.

        Args:
            x (Tensor): (b, 3, out_size, out_size), the LR face bicubic-upsampled to out_size, in [-1, 1].
            in_size (Tensor): (b, 1) condition = upscaling factor / cond_norm (32 for 512 px models).
            noise (list[Tensor] | None): one noise map per style conv (see ``make_noise``).
            randomize_noise (bool): when ``noise`` is None, draw fresh noise (True) or use the stored buffers.
            return_latents (bool): also return the (b, num_latent, num_style_feat) style vectors.

        Returns:
            tuple[Tensor, Tensor | None]: image (b, 3, out_size, out_size), not clamped; latents or None.
        """
        owner = type(self).__name__
        _check_image(owner, x, self.out_size)
        fix = ('pass in_size as a tensor of shape (b, 1) holding factor / cond_norm, e.g. '
               'torch.full((b, 1), 8 / 32) for ×8 with cond_norm 32 (GCFSR datasets return it as data["in_size"]); '
               'use GCFSRBlindGenerator for a model without the scale condition')
        if in_size is None:
            raise ValueError(f'{owner}: in_size is missing; {fix}')
        if not torch.is_tensor(in_size) or in_size.dim() != 2 or in_size.shape[1] != 1 or \
                in_size.shape[0] not in (1, x.shape[0]):
            shape = tuple(in_size.shape) if torch.is_tensor(in_size) else type(in_size).__name__
            raise ValueError(f'{owner}: in_size has shape {shape} for a batch of {x.shape[0]}; {fix}')
        return self._generate(x, in_size.to(x.dtype), noise, randomize_noise, return_latents)


@ARCH_REGISTRY.register()
class GCFSRBlindGenerator(_GCFSRBase):
    """GCFSR without the scale condition (upstream ``GCFSR_blind``, the released ``gcfsr_blind_512.pth``).

    Same layout as :class:`GCFSRGenerator` except that ``final_down2`` keeps all 4 px channels; the condition
    layers still exist and are fed a constant ``in_size`` of one.

    Args (YAML ``network_g``): as :class:`GCFSRGenerator`.
    """

    conditional = False

    def forward(self, x, noise=None, randomize_noise=True, return_latents=False):
        """Super-resolve ``x`` (b, 3, out_size, out_size) in [-1, 1]; returns ``(image, latents or None)``."""
        _check_image(type(self).__name__, x, self.out_size)
        in_size = x.new_ones(1, 1)
        return self._generate(x, in_size, noise, randomize_noise, return_latents)


# ----------------------------------------------------------------------------------------------------------
# discriminator
# ----------------------------------------------------------------------------------------------------------
@ARCH_REGISTRY.register()
class GCFSRDiscriminator(nn.Module):
    """StyleGAN2 discriminator without the minibatch-stddev channel (upstream ``StyleGAN2Discriminator_no_std``).

    Args (YAML ``network_d``):
        out_size (int): input size, a power of two in [64, 1024].
        channel_multiplier (int): widens the 64 … 1024 px stages. Default: 2.
        resample_kernel (list[int]): FIR taps for downsampling. Default: [1, 3, 3, 1].
        narrow (float): width factor (1 = official; 0.5 / 0.25 / 0.125 = student discriminators). Default: 1.

    ``forward(x)`` takes (b, 3, out_size, out_size) and returns (b, 1) logits.
    """

    def __init__(self, out_size, channel_multiplier=2, resample_kernel=(1, 3, 3, 1), narrow=1):
        super().__init__()
        owner = type(self).__name__
        out_size = check_out_size(owner, out_size)
        channels = channel_table(owner, out_size, channel_multiplier, narrow)
        self.out_size, self.narrow, self.channels = out_size, narrow, channels
        rk = tuple(resample_kernel)
        body = [ConvLayer(3, channels[out_size], 1)]
        in_ch = channels[out_size]
        for i in range(int(math.log2(out_size)), 2, -1):
            body.append(ResBlock(in_ch, channels[2**(i - 1)], rk))
            in_ch = channels[2**(i - 1)]
        self.conv_body = nn.Sequential(*body)
        self.final_conv = ConvLayer(in_ch, channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 16, channels[4], activation='fused_lrelu'),
            EqualLinear(channels[4], 1),
        )

    def forward(self, x):
        _check_image(type(self).__name__, x, self.out_size)
        out = self.final_conv(self.conv_body(x))
        return self.final_linear(out.reshape(out.shape[0], -1))
