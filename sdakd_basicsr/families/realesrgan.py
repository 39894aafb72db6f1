"""Real-ESRGAN family: basicsr's RRDBNet generator and UNetDiscriminatorSN, images in [0, 1]."""
import torch

from sdakd_basicsr.families.base import FAMILY_REGISTRY, TeacherFamily, scale_channels

#: loss -> ``train`` switch choosing Real-ESRGAN's sharpened GT for it, and the switch's default
SHARPENED_GT_SWITCHES = {'pixel': ('l1_gt_usm', True), 'perceptual': ('percep_gt_usm', True),
                         'gan': ('gan_gt_usm', False)}


@FAMILY_REGISTRY.register()
class RealESRGANFamily(TeacherFamily):
    """Real-ESRGAN (RRDBNet + UNetDiscriminatorSN), trained on Real-ESRGAN's second-order degradation.

    Student G: ``num_feat`` and (unless ``sdakd.scale_grow_ch: false``) ``num_grow_ch`` times the width, same
    number of RRDB blocks, so block names and spatial sizes match the teacher layer by layer.
    Student D: ``num_feat`` times the width. Default taps: every 6th RRDB block, the last block and
    ``conv_body``.

    Data: with ``datasets.train.type: RealESRGANDataset`` the training pairs are synthesised on the fly
    (:class:`~sdakd_basicsr.data.realesrgan_synthesis.RealESRGANPairSynthesizer`), and the ``train`` switches
    ``l1_gt_usm`` / ``percep_gt_usm`` / ``gan_gt_usm`` (default true, true, false) choose the sharpened GT per
    loss, as Real-ESRGAN does. Any paired dataset (``lq`` + ``gt``) works too.

    Options (``sdakd``):
        scale_grow_ch (bool): Scale RRDB growth channels with the width. Default: true.
    """

    name = 'realesrgan'
    value_range = (0.0, 1.0)
    input_keys = ('lq', )
    options = {'scale_grow_ch': True}
    generator_types = ('RRDBNet', )
    discriminator_types = ('UNetDiscriminatorSN', )
    feature_every = 6

    def __init__(self, sdakd_opt=None):
        super().__init__(sdakd_opt)
        self.synthesizer = None
        self.sharpened_for = {}

    def generate(self, net, inputs):
        return net(inputs['lq'])

    def student_generator_opt(self, teacher_opt, width):
        opt, net_type = self._copy_without_type(teacher_opt)
        self._require_type(net_type, self.generator_types, 'network_g')
        opt['num_feat'] = scale_channels(opt.get('num_feat', 64), width, 'network_g_teacher.num_feat')
        if self.option('scale_grow_ch'):
            opt['num_grow_ch'] = scale_channels(opt.get('num_grow_ch', 32), width, 'network_g_teacher.num_grow_ch')
        return dict(type=net_type, **opt)

    def student_discriminator_opt(self, teacher_d_opt, width):
        opt, net_type = self._copy_without_type(teacher_d_opt)
        self._require_type(net_type, self.discriminator_types, 'network_d')
        opt['num_feat'] = scale_channels(opt.get('num_feat', 64), width, 'network_d_teacher.num_feat')
        return dict(type=net_type, **opt)

    def default_feature_layers(self, teacher_opt):
        num_block = teacher_opt.get('num_block', 23)
        blocks = sorted(set(range(self.feature_every - 1, num_block, self.feature_every)) | {num_block - 1})
        return [f'body.{i}' for i in blocks] + ['conv_body']

    def dummy_inputs(self, teacher_opt, device, size=None):
        channels = teacher_opt.get('num_in_ch', 3)
        return {'lq': torch.rand(1, channels, size or 16, size or 16, device=device)}

    # ------------------------------------------------------------------ data
    def setup_training_data(self, opt, device):
        from sdakd_basicsr.data.realesrgan_synthesis import RealESRGANPairSynthesizer
        train_opt = opt.get('train', {})
        self.sharpened_for = {loss: bool(train_opt.get(key, default))
                              for loss, (key, default) in SHARPENED_GT_SWITCHES.items()}
        if opt['datasets'].get('train', {}).get('type') == 'RealESRGANDataset':
            self.synthesizer = RealESRGANPairSynthesizer(opt, device)

    def prepare_batch(self, data, device, training):
        if not (training and self.synthesizer is not None and 'kernel1' in data):
            return super().prepare_batch(data, device, training)
        lq, gt, gt_sharpened = self.synthesizer(data)
        targets = {loss: gt_sharpened if self.sharpened_for.get(loss) else gt for loss in SHARPENED_GT_SWITCHES}
        return {'lq': lq, 'gt': gt, 'inputs': {'lq': lq}, 'targets': targets}

    def training_state(self):
        return None if self.synthesizer is None else {'synthesizer': self.synthesizer.state_dict()}

    def load_training_state(self, state):
        if state and state.get('synthesizer') and self.synthesizer is not None:
            self.synthesizer.load_state_dict(state['synthesizer'])
