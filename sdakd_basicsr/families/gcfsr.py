"""GCFSR family: scale-conditioned GCFSR generator and its StyleGAN2 discriminator, images in [-1, 1]."""
import math

import torch

from sdakd_basicsr.families.base import TeacherFamily, register_family, scale_channels

_G_TYPES = ('GCFSRGenerator', 'GCFSRBlindGenerator')
_D_TYPES = ('GCFSRDiscriminator', )


@register_family
class GCFSRFamily(TeacherFamily):
    """GCFSR (He et al., CVPR 2022).

    The generator takes ``(x, in_size)`` (the blind variant only ``x``) and returns ``(image, latent)``; inputs
    and outputs are in [-1, 1]. Students and the student D multiply ``narrow`` by the width (all channel counts
    scale with it); the student's ``num_style_feat`` scales too unless ``sdakd.scale_style_feat: false``:
    otherwise the latent branch's ``final_linear`` would keep most of a narrow student's parameters.
    Default taps: the decoder's fusing StyleConv at every resolution (``style_conv1``, ``style_convs.1``,
    ``style_convs.3``, ...), whose spatial sizes match between teacher and student.
    """

    name = 'gcfsr'
    value_range = (-1.0, 1.0)
    input_keys = ('lq', 'in_size')

    def generate(self, net, inputs):
        bare = getattr(net, 'module', net)  # DDP wraps the student
        out = net(inputs['lq'], inputs['in_size']) if getattr(bare, 'conditional', True) else net(inputs['lq'])
        return out[0] if isinstance(out, (tuple, list)) else out

    def _scaled_narrow(self, opt, width, what):
        narrow = opt.get('narrow', 1) * width
        if narrow <= 0:
            raise ValueError(f'sdakd.width={width} must be positive ({what}).')
        return narrow

    def student_generator_opt(self, teacher_opt, width, scale_style_feat=True):
        opt, net_type = self._copy_without_type(teacher_opt)
        if net_type not in _G_TYPES:
            raise ValueError(f'the gcfsr family derives students from {_G_TYPES}, not {net_type!r}; '
                             'write network_g out explicitly or choose another sdakd.family.')
        opt['narrow'] = self._scaled_narrow(opt, width, 'network_g_teacher.narrow')
        if scale_style_feat:
            opt['num_style_feat'] = scale_channels(opt.get('num_style_feat', 512), width,
                                                   'network_g_teacher.num_style_feat')
        return dict(type=net_type, **opt)

    def student_discriminator_opt(self, teacher_d_opt, width):
        opt, net_type = self._copy_without_type(teacher_d_opt)
        if net_type not in _D_TYPES:
            raise ValueError(f'the gcfsr family derives the student D from {_D_TYPES}, not {net_type!r}; '
                             'write network_d out explicitly.')
        opt['narrow'] = self._scaled_narrow(opt, width, 'network_d_teacher.narrow')
        return dict(type=net_type, **opt)

    def default_feature_layers(self, teacher_opt):
        num_upsamples = int(math.log2(teacher_opt['out_size'])) - 4  # 16 px -> out_size
        return ['style_conv1'] + [f'style_convs.{2 * k + 1}' for k in range(num_upsamples)]

    def dummy_inputs(self, teacher_opt, device, size=None):
        size = teacher_opt['out_size']
        return {'lq': torch.rand(1, 3, size, size, device=device) * 2 - 1,
                'in_size': torch.full((1, 1), 8 / 32, device=device)}
