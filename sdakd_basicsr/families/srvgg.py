"""SRVGG family: basicsr's SRVGGNetCompact teacher (realesr-animevideov3, realesr-general-x4v3) and Real-ESRGAN's
UNet discriminator, images in [0, 1]. Everything but the generator is the Real-ESRGAN family's."""
from sdakd_basicsr.families.base import FAMILY_REGISTRY
from sdakd_basicsr.families.realesrgan import RealESRGANFamily


@FAMILY_REGISTRY.register()
class SRVGGFamily(RealESRGANFamily):
    """SRVGGNetCompact teachers, distilled on Real-ESRGAN's degradation with Real-ESRGAN's discriminator.

    Student G: ``num_feat`` times the width, the same ``num_conv``, so ``body.<i>`` names and sizes match the
    teacher layer by layer. Student D: as in the Real-ESRGAN family. Default taps: the activation after every
    quarter of the conv stack (``body.9``, ``body.17``, ``body.25``, ``body.33`` for 16 convs), all at LR size.
    Evaluation crops ``scale`` pixels from each border (:meth:`TeacherFamily.crop_border`), as Real-ESRGAN's
    evaluation of its x4 models does, unless the option file sets ``val.metrics.psnr.crop_border``.
    """

    name = 'srvgg'
    options = {}
    generator_types = ('SRVGGNetCompact', )
    main_option_file = None
    results_table = dict(RealESRGANFamily.results_table, number=5, title='SRVGG x4')

    def scaled_generator_channels(self):
        return {'num_feat': 64}

    def default_feature_layers(self, teacher_opt):
        num_conv = teacher_opt.get('num_conv', 16)
        convs = sorted({max(1, round(num_conv * k / 4)) for k in range(1, 5)})
        return [f'body.{2 * i + 1}' for i in convs]  # body = [conv, act, (conv, act) * num_conv, conv_last]
