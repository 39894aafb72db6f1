"""SDAKD: Student Discriminator Assisted Knowledge Distillation for super-resolution GANs."""
from collections import OrderedDict
from copy import deepcopy

import torch

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from sdakd_basicsr.distributed import DistributedModelMixin
from sdakd_basicsr.families import family_from_options
from sdakd_basicsr.losses.r1_loss import lazy_r1_loss
from sdakd_basicsr.losses.terms import LOSS_TERMS
from sdakd_basicsr.models.exact_resume import ExactResumeMixin
from sdakd_basicsr.models.stages import parse_stages, stage_at
from sdakd_basicsr.utils.checkpoint import load_checked
from sdakd_basicsr.utils.feature_taps import FeatureTaps
from sdakd_basicsr.utils.gan_diagnostics import DiscriminatorMonitor, write_validation_grids


def resolve_network_options(opt, family):
    """A copy of ``opt`` with ``network_g`` / ``network_d`` derived from the teacher's options when not given.

    ``opt`` itself is not changed: the model resolves its options once, and commands that rebuild a student
    (evaluation, export, inference) call :func:`sdakd_basicsr.utils.options.resolve_options` once and read the copy.

    Options read (family-specific ones, such as ``sdakd.scale_grow_ch``, are read by the family):
        sdakd.width (float): Student width relative to the teacher, for G and D alike. Default 0.5.
        sdakd.d_width (float | str): Student-discriminator width if it should differ. Default: ``sdakd.width``, or
            for a student G of another type than the teacher's, the family's capacity rule (``capacity``).
    """
    if 'network_g_teacher' not in opt:
        raise KeyError('network_g_teacher is missing: SDAKD needs the teacher generator options '
                       '(as in the teacher\'s own training file).')
    opt = deepcopy(opt)
    if opt.get('sdakd') is None:
        opt['sdakd'] = {}
    sdakd_opt = opt['sdakd']
    width = sdakd_opt.setdefault('width', 0.5)
    if not isinstance(width, (int, float)) or not 0 < width <= 1:
        raise ValueError(f'sdakd.width={width!r} must be a number in (0, 1], e.g. 0.5, 0.25, 0.125')
    if opt.get('network_g') is None:
        opt['network_g'] = family.student_generator_opt(opt['network_g_teacher'], width)
    if opt.get('network_d') is None and opt.get('network_d_teacher') is not None:
        d_width = family.student_discriminator_width(opt['network_g'], opt['network_g_teacher'],
                                                     opt['network_d_teacher'], sdakd_opt.get('d_width'), width)
        opt['network_d'] = family.student_discriminator_opt(opt['network_d_teacher'], d_width)
    return opt


#: values of ``train.teacher_precision``
TEACHER_PRECISIONS = ('float32', 'bfloat16', 'float16', 'auto')


def ema_decay_at(decay, iteration, warmup):
    """The EMA decay for the update after training iteration ``iteration``.

    With ``warmup``, ``min(decay, (1 + iteration) / (10 + iteration))``: the average then spans about a tenth of
    the iterations so far, so the random initial weights leave it within a few dozen iterations and a short run
    still averages over its last stretch rather than over a fixed number of iterations.
    """
    return min(decay, (1 + iteration) / (10 + iteration)) if warmup else decay


def teacher_autocast_dtype(precision, device):
    """The autocast dtype of the teacher's forward pass for ``train.teacher_precision`` (None: float32)."""
    device = torch.device(device)
    if precision == 'auto':
        if device.type == 'cuda':
            return torch.float16
        native_bf16 = getattr(torch.ops.mkldnn, '_is_mkldnn_bf16_supported', lambda: False)()
        return torch.bfloat16 if device.type == 'cpu' and native_bf16 else None
    return None if precision == 'float32' else getattr(torch, precision)


@MODEL_REGISTRY.register()
class SDAKDModel(ExactResumeMixin, DistributedModelMixin, SRModel):
    """Distils a frozen SR-GAN teacher generator into a narrower student, with a student discriminator.

    One model for SDAKD, its baselines and ablations: ``train.stages`` says, per stage, which losses the
    student generator gets and which discriminator trains (see :mod:`sdakd_basicsr.models.stages`).

    Option blocks (besides BasicSR's usual ones):
        sdakd: ``family`` (``realesrgan`` | ``srvgg`` | ``gcfsr``), ``width``, ``d_width``, and the family's own
            options (see each family's docstring in :mod:`sdakd_basicsr.families`).
        network_g_teacher / network_d_teacher: the teacher's own network options.
        network_g / network_d: the students; derived from the teacher options and ``sdakd.width`` if absent.
        network_feat_adapters: optional ``FeatureAdapters`` options (``adapter``: ``mlp`` | ``conv1x1``,
            ``hidden_channels``, ``activation``); the channel counts are probed.
        path: ``pretrain_network_g_teacher`` (required), ``param_key_g_teacher`` (default ``params_ema``;
            ``params`` and bare state dicts are accepted too), ``strict_load_g_teacher`` (default True),
            ``pretrain_network_d_teacher``, ``param_key_d_teacher`` (default ``params``).
        train: the option block of each loss term the stages use (``pixel_opt``, ``perceptual_opt``, ``gan_opt``,
            ``distill_opt`` (FeatureMapDistillLoss), ``output_distill_opt`` (student image vs. teacher image), and
            any registered in :mod:`sdakd_basicsr.losses.terms`), ``optim_g``, ``optim_d``,
            ``optim_d_teacher`` (default: ``optim_d``), ``ema_decay``, ``ema_warmup`` (default False: the decay
            at iteration t is ``min(ema_decay, (1 + t) / (10 + t))``), ``r1_reg_weight`` (default 0),
            ``net_d_reg_every`` (default 16), ``stages``; families may read more (Real-ESRGAN's sharpened-GT
            switches ``l1_gt_usm`` / ``percep_gt_usm`` / ``gan_gt_usm``).
            ``channels_last`` (default False): keep every network's weights in channels-last memory layout (the
            same values; faster convolutions on CPUs and on GPUs with tensor cores).
            ``teacher_precision`` (default ``float32``): the teacher's forward pass under autocast in
            ``bfloat16`` or ``float16``, or ``auto`` (``float16`` on a GPU, ``bfloat16`` on a CPU with native
            bfloat16 arithmetic, else ``float32``). Its outputs and features reach the losses as float32; the
            teacher's weights stay float32.
    """

    def __init__(self, opt):
        train_opt = opt.get('train') or {}
        self.channels_last = train_opt.get('channels_last', False)
        if not isinstance(self.channels_last, bool):
            raise ValueError(f'train.channels_last={self.channels_last!r}: must be true or false')
        self.teacher_precision = train_opt.get('teacher_precision', 'float32')
        if self.teacher_precision not in TEACHER_PRECISIONS:
            raise ValueError(f'train.teacher_precision={self.teacher_precision!r}: choose one of '
                             f'{", ".join(TEACHER_PRECISIONS)}')
        self.family = family_from_options(opt)
        opt = resolve_network_options(opt, self.family)
        self.family.configure(opt['network_g_teacher'])
        if opt['is_train']:
            self.stages = parse_stages(opt['train'], has_teacher_d=opt.get('network_d_teacher') is not None)
        self.current_stage = None
        super().__init__(opt)

    # ------------------------------------------------------------------ set-up
    def _laid_out(self, net):
        """``net`` in channels-last layout when ``train.channels_last`` (before any DDP wrapping)."""
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def model_to_device(self, net):
        return super().model_to_device(self._laid_out(net))

    def init_training_settings(self):
        train_opt = self.opt['train']
        logger = get_root_logger()
        self.net_g.train()
        used_discriminators = {d for stage in self.stages for d in (stage.train_d, stage.adv_d)}

        self.net_g_teacher = self._build_teacher('g', 'params_ema')
        if 'student' in used_discriminators and not self.opt.get('network_d'):
            raise ValueError('a stage trains or uses the student discriminator, but there is neither network_d nor '
                             'network_d_teacher (to derive it from with sdakd.width); add one of them')
        self.net_d = None
        if 'student' in used_discriminators:
            self.net_d = self.model_to_device(build_network(self.opt['network_d']))
        self.net_d_teacher = None
        if 'teacher' in used_discriminators:
            self.net_d_teacher = self.model_to_device(self._build_teacher('d', 'params', frozen=False))
        for name in ('net_d', 'net_d_teacher'):
            if getattr(self, name) is not None:
                getattr(self, name).train()
                self.print_network(getattr(self, name))
        if self.net_d is not None and self.opt['path'].get('pretrain_network_d'):
            path_opt = self.opt['path']
            self.load_network(self.net_d, path_opt['pretrain_network_d'], path_opt.get('strict_load_d', True),
                              path_opt.get('param_key_d', 'params'))

        self.ema_decay = train_opt.get('ema_decay', 0)
        self.ema_warmup = train_opt.get('ema_warmup', False)
        if not isinstance(self.ema_warmup, bool):
            raise ValueError(f'train.ema_warmup={self.ema_warmup!r}: must be true or false')
        if self.ema_warmup and not self.ema_decay > 0:
            raise ValueError('train.ema_warmup is true but train.ema_decay is 0 or missing: there is no EMA to warm up')
        if self.ema_decay > 0:
            logger.info(f'Use Exponential Moving Average with decay: {self.ema_decay}'
                        + (' (warm-up: min(decay, (1 + iter) / (10 + iter)))' if self.ema_warmup else ''))
            self.net_g_ema = self._laid_out(build_network(self.opt['network_g']).to(self.device))
            self.model_ema(0)  # start from the student's initial weights
            self.net_g_ema.eval()

        self._setup_loss_terms(train_opt)
        self.r1_reg_weight = train_opt.get('r1_reg_weight', 0)
        self.net_d_reg_every = train_opt.get('net_d_reg_every', 16)
        self.d_monitor = DiscriminatorMonitor(train_opt.get('diag_window', 100))  # D win share, G-D gap
        self.family.setup_training_data(self.opt, self.device)

        self.setup_optimizers()
        self.setup_schedulers()
        for stage in self.stages:
            logger.info(f'SDAKD stage {stage.index + 1}/{len(self.stages)}: {stage.describe()}')

    def _setup_loss_terms(self, train_opt):
        """One criterion per loss term the stages use (:data:`LOSS_TERMS`), plus the discriminators' GAN loss."""
        active = [term for name, term in LOSS_TERMS.items() if any(name in stage.losses for stage in self.stages)]
        self.cri_gan = None
        if self.net_d is not None or self.net_d_teacher is not None:  # the discriminators' own loss
            self.cri_gan = build_loss(train_opt['gan_opt']).to(self.device)
        self.loss_criteria = OrderedDict()
        for term in active:
            if term.target == 'teacher_features':
                continue  # built with the taps and adapters below
            if term.option_key == 'gan_opt' and self.cri_gan is not None:
                self.loss_criteria[term.name] = self.cri_gan
            else:
                self.loss_criteria[term.name] = build_loss(train_opt[term.option_key]).to(self.device)
        self.cri_distill = self.net_feat_adapters = None
        feature_terms = [term for term in active if term.target == 'teacher_features']
        if feature_terms:  # the taps and adapters are shared; the first feature term's block names the layers
            self._setup_feature_distillation(train_opt[feature_terms[0].option_key])
            for term in feature_terms:
                self.loss_criteria[term.name] = (self.cri_distill if term is feature_terms[0] else
                                                 build_loss(train_opt[term.option_key]).to(self.device))

    def _build_teacher(self, label, default_param_key, frozen=True):
        path_opt = self.opt['path']
        net = self._laid_out(build_network(self.opt[f'network_{label}_teacher']).to(self.device))
        used_key = load_checked(net, path_opt.get(f'pretrain_network_{label}_teacher'),
                                path_opt.get(f'param_key_{label}_teacher', default_param_key),
                                path_opt.get(f'strict_load_{label}_teacher', True),
                                f'path.pretrain_network_{label}_teacher', f'network_{label}_teacher')
        get_root_logger().info(f'Loaded teacher {label.upper()} ({net.__class__.__name__}, '
                               f'{sum(p.numel() for p in net.parameters()):,d} params) from '
                               f"{path_opt[f'pretrain_network_{label}_teacher']} [{used_key}]")
        if frozen:
            net.eval()
            net.requires_grad_(False)
        return net

    def _setup_feature_distillation(self, distill_opt):
        distill_opt = deepcopy(distill_opt)
        # teacher taps: teacher_layers, else layers, else the family's; student taps: student_layers, else the
        # family's pairing (same names for a student of the teacher's type, relative depth otherwise)
        teacher_layers = distill_opt.get('teacher_layers') or distill_opt.get('layers')
        student_layers = distill_opt.get('student_layers')
        if not student_layers:
            student_layers, teacher_layers = self.family.default_feature_layer_pairs(
                self.opt['network_g_teacher'], self.opt['network_g'], teacher_layers)
        teacher_layers = teacher_layers or self.family.default_feature_layers(self.opt['network_g_teacher'])
        if len(student_layers) != len(teacher_layers):
            raise ValueError('distill_opt.student_layers and distill_opt.teacher_layers must have the same length')
        self.student_taps = FeatureTaps(self.get_bare_model(self.net_g), student_layers, 'student generator')
        self.teacher_taps = FeatureTaps(self.net_g_teacher, teacher_layers, 'teacher generator')
        # one probe pass finds each tapped layer's channel count
        probe = self.family.dummy_inputs(self.opt['network_g_teacher'], self.device)
        with torch.no_grad():
            _, s_feats = self._tapped(self.student_taps, self.get_bare_model(self.net_g), probe)
            _, t_feats = self._tapped(self.teacher_taps, self.net_g_teacher, probe)
        for name, f_s, f_t in zip(student_layers, s_feats, t_feats):
            if f_s.shape[-2:] != f_t.shape[-2:]:
                raise ValueError(f'distill_opt.layers: {name!r} has spatial size {tuple(f_s.shape[-2:])} in the '
                                 f'student but {tuple(f_t.shape[-2:])} in the teacher; tap matching resolutions')
        adapter_opt = dict(self.opt.get('network_feat_adapters') or {'type': 'FeatureAdapters'})
        adapter_opt.update(student_channels=[f.shape[1] for f in s_feats],
                           teacher_channels=[f.shape[1] for f in t_feats])
        self.net_feat_adapters = self.model_to_device(build_network(adapter_opt))
        self.cri_distill = build_loss(distill_opt).to(self.device)
        get_root_logger().info('Feature distillation taps (student -> teacher channels): ' + ', '.join(
            f'{n}: {f_s.shape[1]}->{f_t.shape[1]}' for n, f_s, f_t in zip(student_layers, s_feats, t_feats)))

    def _tapped(self, taps, net, inputs):
        """Generator output and the tapped features of that forward pass."""
        taps.enabled = True
        try:
            output = self.family.generate(net, inputs)
            return output, taps.collect()
        finally:
            taps.enabled = False

    def setup_optimizers(self):
        """Adam for G (+ adapters), D_S and D_T, created up front: BasicSR resumes a fixed optimizer list."""
        train_opt = self.opt['train']
        params_g = [p for p in self.net_g.parameters() if p.requires_grad]
        if self.net_feat_adapters is not None:
            params_g += list(self.net_feat_adapters.parameters())
        self.optimizer_g = self._make_optimizer(params_g, train_opt['optim_g'])
        self.optimizers.append(self.optimizer_g)
        self.optimizer_d = self.optimizer_d_teacher = None
        if self.net_d is not None:
            self.optimizer_d = self._make_optimizer(self.net_d.parameters(), train_opt['optim_d'])
            self.optimizers.append(self.optimizer_d)
        if self.net_d_teacher is not None:
            optim_opt = train_opt.get('optim_d_teacher') or train_opt['optim_d']
            self.optimizer_d_teacher = self._make_optimizer(self.net_d_teacher.parameters(), optim_opt)
            self.optimizers.append(self.optimizer_d_teacher)

    def _make_optimizer(self, params, optim_opt):
        optim_opt = dict(optim_opt)
        if 'betas' in optim_opt:  # YAML's `betas: [0, 0.99]` gives an int, which recent torch rejects
            optim_opt['betas'] = tuple(float(b) for b in optim_opt['betas'])
        return self.get_optimizer(optim_opt.pop('type'), params, **optim_opt)

    # ------------------------------------------------------------------ data
    def feed_data(self, data):
        batch = self.family.prepare_batch(data, self.device, training=self.is_train)
        self.lq, self.inputs = batch['lq'], batch['inputs']
        if 'gt' in batch:
            self.gt, self.loss_targets = batch['gt'], batch['targets']

    # ------------------------------------------------------------------ training step
    def _discriminator(self, which):
        return self.net_d if which == 'student' else self.net_d_teacher

    def _check_finite(self, losses, current_iter):
        bad = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
        if bad:
            raise FloatingPointError(
                f'non-finite loss at iter {current_iter} in stage {self.current_stage.describe()}: {bad}. Training '
                'stopped before the optimizer step; the last saved checkpoint is intact. Lower the learning '
                'rates or loss weights, or resume from that checkpoint.')

    def optimize_parameters(self, current_iter):
        stage = stage_at(self.stages, current_iter)
        if stage is not self.current_stage:
            verb = 'starts' if current_iter == stage.first_iter else 'continues (resumed)'
            get_root_logger().info(f'SDAKD stage {stage.index + 1}/{len(self.stages)} {verb} at iter '
                                   f'{current_iter}: {stage.describe()}')
            self.current_stage = stage
        weights, loss_dict = stage.losses, OrderedDict()
        terms = [term for name, term in LOSS_TERMS.items() if name in weights]  # registration order
        targets = {term.target for term in terms}

        # ---- student generator
        adv_net = self._discriminator(stage.adv_d) if 'discriminator' in targets else None
        for net in (self.net_d, self.net_d_teacher):
            if net is not None:
                net.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        distill = 'teacher_features' in targets
        if distill:
            self.output, student_feats = self._tapped(self.student_taps, self.net_g, self.inputs)
        else:
            self.output = self.family.generate(self.net_g, self.inputs)
        teacher_out = teacher_feats = None
        if stage.needs_teacher_output:
            teacher_out, teacher_feats = self._teacher_forward(distill)

        losses = OrderedDict()
        for term in terms:
            prediction = self.output
            if term.target == 'gt':  # the family may sharpen the GT per term (Real-ESRGAN's *_gt_usm)
                target = self.loss_targets.get(term.name, self.gt)
            elif term.target == 'teacher_output':
                target = teacher_out
            elif term.target == 'teacher_features':
                prediction, target = self.net_feat_adapters(student_feats), teacher_feats
            else:
                target = adv_net
            value = term.compute(self.loss_criteria[term.name], prediction, target)
            for key, part in (value.items() if isinstance(value, dict) else [(term.log_key, value)]):
                if part is not None:
                    losses[key] = weights[term.name] * part
        if losses:
            self._check_finite(losses, current_iter)
            l_g_total = sum(losses.values())
            l_g_total.backward()
            self.optimizer_g.step()
            loss_dict.update(losses)
            loss_dict['l_g_total'] = l_g_total.detach()

        # ---- discriminator (student D in SDAKD, teacher D in the baseline)
        if stage.train_d is not None:
            d_losses = self._optimize_discriminator(stage.train_d, self.loss_targets['gan'], current_iter)
            loss_dict.update(d_losses)
            loss_dict.update(self.d_monitor.update_from_losses(stage, d_losses, losses.get('l_g_gan')))

        if self.ema_decay > 0:
            self.model_ema(decay=ema_decay_at(self.ema_decay, current_iter, self.ema_warmup))
        self.log_dict = self.reduce_loss_dict(loss_dict)
        self.log_dict['stage'] = stage.index + 1

    def _teacher_forward(self, with_features):
        """The frozen teacher's output (and tapped features) for ``self.inputs``, as float32."""
        dtype = teacher_autocast_dtype(self.teacher_precision, self.device)
        with torch.no_grad(), torch.autocast(torch.device(self.device).type, dtype=dtype, enabled=dtype is not None):
            if with_features:
                output, features = self._tapped(self.teacher_taps, self.net_g_teacher, self.inputs)
            else:
                output, features = self.family.generate(self.net_g_teacher, self.inputs), None
        if dtype is not None:
            output = output.float()
            features = None if features is None else [f.float() for f in features]
        return output, features

    def _optimize_discriminator(self, which, real, current_iter):
        net_d = self._discriminator(which)
        optimizer = self.optimizer_d if which == 'student' else self.optimizer_d_teacher
        prefix = 'l_d' if which == 'student' else 'l_d_teacher'
        net_d.requires_grad_(True)
        optimizer.zero_grad(set_to_none=True)
        real_pred = net_d(real)
        fake_pred = net_d(self.output.detach().clone())
        losses = OrderedDict()
        losses[f'{prefix}_real'] = self.cri_gan(real_pred, True, is_disc=True)
        losses[f'{prefix}_fake'] = self.cri_gan(fake_pred, False, is_disc=True)
        if self.r1_reg_weight > 0 and current_iter % self.net_d_reg_every == 0:
            losses[f'{prefix}_r1'] = lazy_r1_loss(net_d, real, self.r1_reg_weight, self.net_d_reg_every)
        self._check_finite(losses, current_iter)
        sum(losses.values()).backward()
        optimizer.step()
        losses = OrderedDict((k, v.detach()) for k, v in losses.items())
        losses[f'out_{prefix[2:]}_real'] = real_pred.detach().mean()  # out_d_real / out_d_teacher_real
        losses[f'out_{prefix[2:]}_fake'] = fake_pred.detach().mean()
        return losses

    # ------------------------------------------------------------------ inference and validation
    def test(self):
        net = self.net_g_ema if hasattr(self, 'net_g_ema') else self.get_bare_model(self.net_g)
        net.eval()  # bare: validation runs on rank 0 only, a DDP forward could wait for the other ranks
        with torch.no_grad():
            self.output = self.family.generate(net, self.inputs)
        if net is not getattr(self, 'net_g_ema', None):
            net.train()

    def get_current_visuals(self):
        visuals = OrderedDict(lq=self.family.to_unit_range(self.lq.detach().cpu()),
                              result=self.family.to_unit_range(self.output.detach().cpu()))
        if hasattr(self, 'gt'):
            visuals['gt'] = self.family.to_unit_range(self.gt.detach().cpu())
        return visuals

    def validation(self, dataloader, current_iter, tb_logger, save_img=False):
        was_train = self.is_train
        self.is_train = False  # validation batches are never degraded on the fly
        try:
            super().validation(dataloader, current_iter, tb_logger, save_img)
            grid_images = (self.opt.get('val') or {}).get('grid_images', 4)  # LR | student | teacher | GT
            if grid_images and hasattr(self, 'net_g_teacher') and self.opt.get('rank', 0) == 0:  # rank 0 validates
                write_validation_grids(self, dataloader, current_iter, tb_logger, grid_images)
        finally:
            self.is_train = was_train

    # ------------------------------------------------------------------ saving and resuming (ExactResumeMixin)
    def trained_networks(self):
        return [('d', 'net_d'), ('d_teacher', 'net_d_teacher'), ('feat_adapters', 'net_feat_adapters')]

    def extra_training_state(self):
        return {'stage': self.current_stage.name if self.current_stage else None,
                'family': self.family.training_state()}

    def load_extra_training_state(self, state):
        self.family.load_training_state(state.get('family'))
