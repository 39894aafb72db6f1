"""GCFSR family: scale-conditioned GCFSR generator and its StyleGAN2 discriminator, images in [-1, 1]."""
import math

import torch

from sdakd_basicsr.families.base import FAMILY_REGISTRY, TeacherFamily, scale_channels


@FAMILY_REGISTRY.register()
class GCFSRFamily(TeacherFamily):
    """GCFSR (He et al., CVPR 2022).

    The generator takes ``(x, in_size)`` (the blind variant only ``x``) and returns ``(image, latent)``; inputs
    and outputs are in [-1, 1]. Students and the student D multiply ``narrow`` by the width (all channel counts
    scale with it); the student's ``num_style_feat`` scales too unless ``sdakd.scale_style_feat: false``:
    otherwise the latent branch's ``final_linear`` would keep most of a narrow student's parameters.
    Default taps: the decoder's fusing StyleConv at every resolution (``style_conv1``, ``style_convs.1``,
    ``style_convs.3``, ...), whose spatial sizes match between teacher and student.

    Options (``sdakd``):
        scale_style_feat (bool): Scale ``num_style_feat`` (latent/style width) with the width. Default: true.
    """

    name = 'gcfsr'
    value_range = (-1.0, 1.0)
    input_keys = ('lq', 'in_size')
    options = {'scale_style_feat': True}
    generator_types = ('GCFSRGenerator', 'GCFSRBlindGenerator')
    discriminator_types = ('GCFSRDiscriminator', )
    main_option_file = 'sdakd_gcfsr.yml'
    results_table = {'number': 1, 'title': 'GCFSR', 'metrics': ('fid', 'lpips', 'psnr'), 'per_set_columns': True}

    def __init__(self, sdakd_opt=None):
        super().__init__(sdakd_opt)
        self.conditional = True

    def configure(self, generator_opt):
        self.conditional = generator_opt.get('type') != 'GCFSRBlindGenerator'

    def check_batch(self, data):
        required = self.input_keys if self.conditional else ('lq', )
        missing = [k for k in required if k not in data]
        if missing:
            raise KeyError(f'the {self.name} family needs batch keys {list(required)}, but the dataset gave '
                           f'{sorted(data)} (missing {missing}); use GCFSRTrainDataset / GCFSRValDataset, or '
                           'GCFSRBlindGenerator for an unconditioned generator.')

    def generate(self, net, inputs):
        bare = getattr(net, 'module', net)  # DDP wraps the student
        if not getattr(bare, 'conditional', True):
            return net(inputs['lq'])[0]
        if inputs.get('in_size') is None:
            raise ValueError(f'{bare.__class__.__name__} is scale-conditioned but the data has no "in_size"; use '
                             'GCFSRTrainDataset / GCFSRValDataset, or the blind generator (GCFSRBlindGenerator)')
        return net(inputs['lq'], inputs['in_size'])[0]

    def _scaled_narrow(self, opt, width, what):
        narrow = opt.get('narrow', 1) * width
        if narrow <= 0:
            raise ValueError(f'sdakd.width={width} must be positive ({what}).')
        return narrow

    def student_generator_opt(self, teacher_opt, width):
        opt, net_type = self._copy_without_type(teacher_opt)
        self._require_type(net_type, self.generator_types, 'network_g')
        opt['narrow'] = self._scaled_narrow(opt, width, 'network_g_teacher.narrow')
        if self.option('scale_style_feat'):
            opt['num_style_feat'] = scale_channels(opt.get('num_style_feat', 512), width,
                                                   'network_g_teacher.num_style_feat')
        return dict(type=net_type, **opt)

    def student_discriminator_opt(self, teacher_d_opt, width):
        opt, net_type = self._copy_without_type(teacher_d_opt)
        self._require_type(net_type, self.discriminator_types, 'network_d')
        opt['narrow'] = self._scaled_narrow(opt, width, 'network_d_teacher.narrow')
        return dict(type=net_type, **opt)

    def default_feature_layers(self, teacher_opt):
        num_upsamples = int(math.log2(teacher_opt['out_size'])) - 4  # 16 px -> out_size
        return ['style_conv1'] + [f'style_convs.{2 * k + 1}' for k in range(num_upsamples)]

    def dummy_inputs(self, teacher_opt, device, size=None):
        size = size or teacher_opt['out_size']
        return {'lq': torch.rand(1, 3, size, size, device=device) * 2 - 1,
                'in_size': torch.full((1, 1), 8 / 32, device=device)}

    def prepare_batch(self, data, device, training):
        if 'in_size' in data and data['in_size'].dim() == 1:  # default collation of a per-image scalar
            data = dict(data, in_size=data['in_size'].unsqueeze(1))
        return super().prepare_batch(data, device, training)

    # ------------------------------------------------------------------ evaluation and deployment
    def crop_border(self, opt):
        """0: the output is the whole aligned face at the GT's size, compared in full as GCFSR evaluates it."""
        return 0

    def evaluation_sets(self, opt, gt=None, lq=None, factors=None, **settings):
        """One set per factor (``factors``, default x8 x16 x32 x64, those leaving at least 8 px of LR side) of
        the file's ``GCFSRValDataset`` validation set; inputs are the deterministic bicubic down-up faces."""
        from sdakd_basicsr.data import gcfsr_eval_data as gcfsr_data
        from sdakd_basicsr.metrics import eval_data
        out_size = opt['network_g_teacher']['out_size']
        factors = list(factors or gcfsr_data.GCFSR_FACTORS)
        usable = gcfsr_data.gcfsr_factors(out_size, factors)
        if not usable:
            raise ValueError(f'--factors {factors}: none leaves {gcfsr_data.GCFSR_MIN_LR_SIDE} px at out_size '
                             f'{out_size}')
        sets = []
        for factor in usable:
            dataset_opt = gcfsr_data.gcfsr_dataset_options(opt, factor)
            info = dict(name=f'{dataset_opt.get("name", "val")}', factor=factor, gt_dir=dataset_opt['dataroot_gt'],
                        lq_dir=dataset_opt.get('dataroot_lq'),
                        gt_files=eval_data.list_images(dataset_opt['dataroot_gt']),
                        inputs='bicubic down-up (GCFSRValDataset)')
            sets.append((info, lambda d=dataset_opt: gcfsr_data.gcfsr_samples(d, self)))
        return sets

    pre_pad_inputs = False  # fixed-size faces

    def fixed_input_size(self, network_g):
        """``out_size``: the latent branch's linear layer is sized for it."""
        return network_g['out_size']

    #: the modulated convolutions are grouped convolutions with one group per image; ONNX needs a constant count
    dynamic_batch = False

    def photo_inputs(self, photo, spec, size=96, factor=8):
        """The photo taken as an aligned face, resized to ``out_size`` and degraded x``factor`` (bicubic down-up),
        with its factor condition ``in_size = factor / cond_norm``."""
        import cv2

        from sdakd_basicsr.deploy.runner import image_to_tensor
        low, high = self.value_range
        out_size = spec.network_g['out_size']
        face = cv2.resize(photo, (out_size, out_size), interpolation=cv2.INTER_AREA)
        small = max(1, round(out_size / factor))
        lq = cv2.resize(cv2.resize(face, (small, small), interpolation=cv2.INTER_CUBIC), (out_size, out_size),
                        interpolation=cv2.INTER_CUBIC)
        return (image_to_tensor(lq) * (high - low) + low, torch.full((1, 1), factor / (spec.cond_norm or 32)))

    def deploy_fields(self, opt):
        """``cond_norm`` (``in_size = factor / cond_norm``) of the file's data sets (default 32); no ``scale``:
        the output has the input's size and the factor is the ``in_size`` condition."""
        norms = [d.get('cond_norm') for d in (opt.get('datasets') or {}).values() if isinstance(d, dict)]
        return {'cond_norm': next((n for n in norms if n is not None), 32)}
