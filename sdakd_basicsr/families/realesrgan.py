"""Real-ESRGAN family: basicsr's RRDBNet generator and UNetDiscriminatorSN, images in [0, 1].

Students may be narrower RRDBNets (optionally with a bicubic skip, ``RRDBNetBicubicSkip``) or SRVGGNetCompact
(the architecture of realesr-general-x4v3).
"""
import math
import os
from copy import deepcopy

import torch

from sdakd_basicsr.families.base import FAMILY_REGISTRY, TeacherFamily, scale_channels

#: loss -> ``train`` switch choosing Real-ESRGAN's sharpened GT for it, and the switch's default
SHARPENED_GT_SWITCHES = {'pixel': ('l1_gt_usm', True), 'perceptual': ('percep_gt_usm', True),
                         'gan': ('gan_gt_usm', False)}


def _rrdb_depths(net_opt):
    """RRDBNet trunk at LR size: ``body.<i>`` after i + 1 of ``num_block`` blocks, then ``conv_body`` (depth 1)."""
    num_block = net_opt.get('num_block', 23)
    taps = [(f'body.{i}', (i + 1) / (num_block + 1)) for i in range(num_block)]
    return taps + [('conv_body', 1.0)]


def _srvgg_depths(net_opt):
    """SRVGGNetCompact at LR size: the activation after the first conv (depth 0) and after each of ``num_conv``.

    ``body`` is [conv, act, (conv, act) x num_conv, conv_last], so the j-th activation is ``body.<2j + 1>``.
    """
    num_conv = net_opt.get('num_conv', 16)
    return [(f'body.{2 * j + 1}', j / num_conv) for j in range(num_conv + 1)]


#: generator type -> its LR-resolution tap candidates as (module name, relative depth in [0, 1])
LR_FEATURE_DEPTHS = {'RRDBNet': _rrdb_depths, 'RRDBNetBicubicSkip': _rrdb_depths, 'SRVGGNetCompact': _srvgg_depths}


def feature_depths(net_opt, option):
    """Tap candidates of generator options ``net_opt`` (named ``option`` in errors), see :data:`LR_FEATURE_DEPTHS`."""
    net_type = net_opt.get('type')
    if net_type not in LR_FEATURE_DEPTHS:
        raise ValueError(f'{option}.type={net_type!r}: no default feature taps for it (known: '
                         f'{sorted(LR_FEATURE_DEPTHS)}); give train.distill_opt.student_layers and teacher_layers.')
    return LR_FEATURE_DEPTHS[net_type](net_opt)


def map_layers_by_depth(teacher_opt, student_opt, teacher_layers):
    """Student layer at the relative depth nearest to each teacher layer's (ties go to the deeper layer)."""
    teacher_depth = dict(feature_depths(teacher_opt, 'network_g_teacher'))
    candidates = feature_depths(student_opt, 'network_g')
    unknown = [name for name in teacher_layers if name not in teacher_depth]
    if unknown:
        raise ValueError(f'distill_opt: teacher layers {unknown} have no known depth in {teacher_opt["type"]}; '
                         f'choose among {sorted(teacher_depth)} or give distill_opt.student_layers too.')
    return [min(candidates, key=lambda c: (abs(c[1] - teacher_depth[name]), -c[1]))[0] for name in teacher_layers]


def count_params_of(net_opt):
    """Parameters of the network ``net_opt`` describes, built on the meta device (no memory, no init cost)."""
    from basicsr.archs import build_network
    with torch.device('meta'):
        net = build_network(deepcopy(dict(net_opt)))
    return sum(p.numel() for p in net.parameters())


@FAMILY_REGISTRY.register()
class RealESRGANFamily(TeacherFamily):
    """Real-ESRGAN (RRDBNet + UNetDiscriminatorSN), trained on Real-ESRGAN's second-order degradation.

    Student G: ``num_feat`` and (unless ``sdakd.scale_grow_ch: false``) ``num_grow_ch`` times the width, same
    number of RRDB blocks, so block names and spatial sizes match the teacher layer by layer; with
    ``sdakd.bicubic_skip: true`` the same net plus a bicubic skip (``RRDBNetBicubicSkip``). Or any student
    written out as ``network_g``, e.g. ``SRVGGNetCompact``.
    Student D: ``num_feat`` times the width. For a student of another type than the teacher (or with
    ``sdakd.d_width: capacity``), the width follows the student's capacity: ``num_feat`` = teacher D
    ``num_feat`` x sqrt(student G params / teacher G params), rounded to a multiple of ``sdakd.d_channel_multiple``
    (at least that multiple). The square root makes the rule reproduce the width rule for RRDB students, whose
    parameters, like the UNet D's, scale with the square of the width.
    Default taps: every 6th RRDB block, the last block and ``conv_body``; the same names in a student with the
    teacher's layers (a width-scaled RRDBNet); otherwise (SRVGGNetCompact, an RRDBNet with fewer blocks) the
    student taps, for each teacher layer, its LR-size layer of the nearest relative depth
    (:func:`map_layers_by_depth`).

    Data: with ``datasets.train.type: RealESRGANDataset`` the training pairs are synthesised on the fly
    (:class:`~sdakd_basicsr.data.realesrgan_synthesis.RealESRGANPairSynthesizer`), and the ``train`` switches
    ``l1_gt_usm`` / ``percep_gt_usm`` / ``gan_gt_usm`` (default true, true, false) choose the sharpened GT per
    loss, as Real-ESRGAN does. Any paired dataset (``lq`` + ``gt``) works too.

    Options (``sdakd``):
        scale_grow_ch (bool): Scale RRDB growth channels with the width. Default: true.
        bicubic_skip (bool): Make the derived student an ``RRDBNetBicubicSkip``: the same RRDBNet, adding the
            bicubic upscaling of its input to its output, so that it starts as bicubic upscaling and learns the
            difference. Ignored when ``network_g`` is written out. Default: false (the paper's student).
        d_channel_multiple (int): Student D ``num_feat`` of the capacity rule is a multiple of this. Default: 8.
    """

    name = 'realesrgan'
    value_range = (0.0, 1.0)
    input_keys = ('lq', )
    options = {'scale_grow_ch': True, 'd_channel_multiple': 8, 'bicubic_skip': False}
    #: the released x4plus discriminator (docs/weights.md); the ncnn package of the demo teacher does not ship it
    released_teacher_d = 'experiments/pretrained_models/RealESRGAN_x4plus_netD.pth'
    generator_types = ('RRDBNet', 'RRDBNetBicubicSkip')
    discriminator_types = ('UNetDiscriminatorSN', )
    feature_every = 6
    main_option_file = 'sdakd_realesrgan_x4plus.yml'
    results_table = {'number': 2, 'title': 'Real-ESRGAN x4', 'metrics': ('psnr', 'ssim', 'lpips', 'niqe', 'fid'),
                     'per_set_columns': False}

    def __init__(self, sdakd_opt=None):
        super().__init__(sdakd_opt)
        self.synthesizer = None
        self.sharpened_for = {}

    def generate(self, net, inputs):
        return net(inputs['lq'])

    def scaled_generator_channels(self):
        """Generator options scaled by the width, with the architecture's defaults."""
        channels = {'num_feat': 64}
        if self.option('scale_grow_ch'):
            channels['num_grow_ch'] = 32
        return channels

    def student_generator_opt(self, teacher_opt, width):
        opt, net_type = self._copy_without_type(teacher_opt)
        self._require_type(net_type, self.generator_types, 'network_g')
        bicubic_skip = self.option('bicubic_skip') if 'bicubic_skip' in self.options else False  # not SRVGG's
        if not isinstance(bicubic_skip, bool):
            raise ValueError(f'sdakd.bicubic_skip={bicubic_skip!r}: expected true or false.')
        if bicubic_skip:
            net_type = 'RRDBNetBicubicSkip'
        for key, default in self.scaled_generator_channels().items():
            opt[key] = scale_channels(opt.get(key, default), width, f'network_g_teacher.{key}')
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

    def default_feature_layer_pairs(self, teacher_opt, student_opt, teacher_layers=None):
        teacher_layers = list(teacher_layers or self.default_feature_layers(teacher_opt))
        same_type = student_opt.get('type') == teacher_opt.get('type')
        if same_type and (student_opt.get('type') not in LR_FEATURE_DEPTHS or feature_depths(
                student_opt, 'network_g') == feature_depths(teacher_opt, 'network_g_teacher')):
            return list(teacher_layers), teacher_layers  # same layers at the same depths: same names
        return map_layers_by_depth(teacher_opt, student_opt, teacher_layers), teacher_layers

    def student_discriminator_width(self, student_opt, teacher_opt, teacher_d_opt, d_width, width):
        if d_width is None:
            d_width = width if student_opt.get('type') == teacher_opt.get('type') else 'capacity'
        if d_width != 'capacity':
            return super().student_discriminator_width(student_opt, teacher_opt, teacher_d_opt, d_width, width)
        teacher_feat = teacher_d_opt.get('num_feat', 64)
        multiple = int(self.option('d_channel_multiple'))
        ratio = count_params_of(student_opt) / count_params_of(teacher_opt)
        num_feat = max(multiple, multiple * round(teacher_feat * math.sqrt(ratio) / multiple))
        return min(num_feat, teacher_feat) / teacher_feat

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

    # ------------------------------------------------------------------ evaluation
    def evaluation_sets(self, opt, gt=None, lq=None, cache_dir='experiments/eval_cache', degrade_seed=0,
                        **settings):
        """The validation GT (or ``gt``) degraded once with the option file's Real-ESRGAN degradation from
        ``degrade_seed`` and saved under ``cache_dir``, so every method evaluated later reads the same inputs;
        with ``lq`` given, those LR images instead (the default pairing of :class:`TeacherFamily`)."""
        if lq:
            return super().evaluation_sets(opt, gt=gt, lq=lq)
        from sdakd_basicsr.data.realesrgan_eval_data import degrade_realesrgan_once
        from sdakd_basicsr.metrics import eval_data
        scale = int(opt['scale'])
        val_opt = eval_data.first_val_dataset(opt) if not gt else {}
        gt_dir = gt or val_opt['dataroot_gt']
        name = val_opt.get('name') or os.path.basename(os.path.normpath(gt_dir))
        gt_dir, lq_dir = degrade_realesrgan_once(opt, gt_dir, cache_dir, degrade_seed, name)
        info = dict(name=f'{name}_realesrgan_seed{degrade_seed}', factor=scale, gt_dir=gt_dir, lq_dir=lq_dir,
                    gt_files=eval_data.list_images(gt_dir), inputs='Real-ESRGAN degradation, saved once')
        return [(info, lambda: eval_data.paired_samples(gt_dir, lq_dir, scale))]
