"""Real-ESRGAN family: basicsr's RRDBNet generator and UNetDiscriminatorSN, images in [0, 1]."""
import torch

from sdakd_basicsr.families.base import TeacherFamily, register_family, scale_channels

_RRDB_TYPES = ('RRDBNet', )
_UNET_D_TYPES = ('UNetDiscriminatorSN', )


@register_family
class RealESRGANFamily(TeacherFamily):
    """Real-ESRGAN (RRDBNet + UNetDiscriminatorSN).

    Student G: ``num_feat`` and (unless ``scale_grow_ch: false``) ``num_grow_ch`` times the width, same
    number of RRDB blocks, so block names and spatial sizes match the teacher layer by layer.
    Student D: ``num_feat`` times the width. Default taps: every 6th RRDB block, the last block and
    ``conv_body``.
    """

    name = 'realesrgan'
    value_range = (0.0, 1.0)
    input_keys = ('lq', )
    feature_every = 6

    def generate(self, net, inputs):
        return net(inputs['lq'])

    def student_generator_opt(self, teacher_opt, width, scale_grow_ch=True):
        opt, net_type = self._copy_without_type(teacher_opt)
        if net_type not in _RRDB_TYPES:
            raise ValueError(f'the realesrgan family derives students from RRDBNet, not {net_type!r}; '
                             'write network_g out explicitly or choose another sdakd.family.')
        opt['num_feat'] = scale_channels(opt.get('num_feat', 64), width, 'network_g_teacher.num_feat')
        if scale_grow_ch:
            opt['num_grow_ch'] = scale_channels(opt.get('num_grow_ch', 32), width, 'network_g_teacher.num_grow_ch')
        return dict(type=net_type, **opt)

    def student_discriminator_opt(self, teacher_d_opt, width):
        opt, net_type = self._copy_without_type(teacher_d_opt)
        if net_type not in _UNET_D_TYPES:
            raise ValueError(f'the realesrgan family derives the student D from UNetDiscriminatorSN, not '
                             f'{net_type!r}; write network_d out explicitly.')
        opt['num_feat'] = scale_channels(opt.get('num_feat', 64), width, 'network_d_teacher.num_feat')
        return dict(type=net_type, **opt)

    def default_feature_layers(self, teacher_opt):
        num_block = teacher_opt.get('num_block', 23)
        blocks = sorted(set(range(self.feature_every - 1, num_block, self.feature_every)) | {num_block - 1})
        return [f'body.{i}' for i in blocks] + ['conv_body']

    def dummy_inputs(self, teacher_opt, device, size=None):
        channels = teacher_opt.get('num_in_ch', 3)
        return {'lq': torch.rand(1, channels, size or 16, size or 16, device=device)}
