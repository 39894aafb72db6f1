"""SDAKD, its baselines and its ablations as data: each method is a named edit of an SDAKD option dict.

Every method is the one ``SDAKDModel`` with another ``train.stages`` schedule and, for some, another adaptor or
discriminator. :data:`METHODS` is the single table; ``python -m sdakd_basicsr.make_options`` turns it into the
option files of ``options/baselines`` and ``options/ablations``, sweeps (methods x widths x seeds) and the method
table of ``docs/baselines.md``.

A method's ``edit(opt, plan)`` changes ``opt`` (a deep copy of a three-stage SDAKD option dict) in place; ``plan``
is the source's :class:`Schedule` (stage lengths S1 / S2 / S3 and the "GT losses" of stage 1).
"""
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Schedule:
    """The three SDAKD stage lengths of a source file and the GT losses of its supervised stage (its losses
    against the ground truth; a teacher-output term there is not one of them)."""
    s1: int
    s2: int
    s3: int
    gt: tuple

    @property
    def total(self):
        return self.s1 + self.s2 + self.s3


@dataclass(frozen=True)
class Method:
    """One row of the method table.

    Attributes:
        name (str): Used in file and experiment names (``<family>_w0.5_<name>``) and by ``--methods``.
        kind (str): ``method``, ``baseline`` or ``ablation`` (the folder under ``options/``).
        summary (str): One line, written into each generated file's header and into ``docs/baselines.md``.
        edit (callable): ``edit(opt, plan)``, changing the option dict in place.
    """
    name: str
    kind: str
    summary: str
    edit: Callable


def stage(name, iters, losses, train_d=None):
    """One ``train.stages`` entry."""
    entry = OrderedDict(name=name, iters=iters, losses=list(losses))
    if train_d:
        entry['train_d'] = train_d
    return entry


def sdakd_stages(plan):
    """SDAKD's own three stages: supervised, distillation with D_S warm-up, adversarial."""
    gt = list(plan.gt)
    return [stage('supervised', plan.s1, gt), stage('distill', plan.s2, gt + ['distill'], 'student'),
            stage('adversarial', plan.s3, gt + ['distill', 'gan'], 'student')]


def insert_after(mapping, after, key, value):
    """``mapping`` (an ordered dict) with ``key: value`` right after ``after`` (or replaced where it is)."""
    if key in mapping:
        mapping[key] = value
        return mapping
    items = list(mapping.items())
    position = next((i + 1 for i, (k, _) in enumerate(items) if k == after), len(items))
    items.insert(position, (key, value))
    mapping.clear()
    mapping.update(items)
    return mapping


def full_width_d(opt):
    """A discriminator of the teacher's size (``sdakd.d_width: 1.0``), trained from scratch."""
    insert_after(opt['sdakd'], 'width', 'd_width', 1.0)


def add_output_distill(opt):
    """An L1 loss between student and teacher images (``train.output_distill_opt``), unless the source has one."""
    if not opt['train'].get('output_distill_opt'):
        insert_after(opt['train'], 'distill_opt', 'output_distill_opt',
                     OrderedDict(type='L1Loss', loss_weight=1.0, reduction='mean'))


def set_adapter(opt, adapter):
    opt.setdefault('network_feat_adapters', OrderedDict(type='FeatureAdapters'))['adapter'] = adapter


# ---------------------------------------------------------------------------------------------- the methods
def _sdakd(opt, plan):
    """The source's own schedule (only rescaled by ``total_iter``)."""


def _no_kd(opt, plan):
    opt['train']['stages'] = [stage('supervised', plan.s1 + plan.s2, plan.gt),
                              stage('gan', plan.s3, list(plan.gt) + ['gan'], 'student')]


def _no_kd_halves(opt, plan):
    half = plan.total // 2
    opt['train']['stages'] = [stage('supervised', plan.total - half, plan.gt),
                              stage('gan', half, list(plan.gt) + ['gan'], 'student')]


def _teacher_d(opt, plan):
    from sdakd_basicsr.families import family_from_options
    family = family_from_options(opt)
    if family.released_teacher_d is None:
        raise ValueError(f'teacher_d needs the released teacher discriminator, which sdakd.family={family.name!r} '
                         'does not have; use teacher_d_scratch (a teacher-size D trained from scratch)')
    path = opt.setdefault('path', OrderedDict())
    insert_after(path, 'strict_load_g_teacher', 'pretrain_network_d_teacher', family.released_teacher_d)
    insert_after(path, 'pretrain_network_d_teacher', 'param_key_d_teacher', 'params')
    gt = list(plan.gt)
    opt['train']['stages'] = [sdakd_stages(plan)[0], stage('distill', plan.s2, gt + ['distill'], 'teacher'),
                              stage('adversarial', plan.s3, gt + ['distill', 'gan'], 'teacher')]


def _teacher_d_scratch(opt, plan):
    full_width_d(opt)
    opt['train']['stages'] = sdakd_stages(plan)


def _gan_compression(opt, plan):
    add_output_distill(opt)
    full_width_d(opt)
    set_adapter(opt, 'conv1x1')
    opt['train']['stages'] = [stage('distill_gan', plan.total, list(plan.gt) + ['output_distill', 'distill', 'gan'],
                                    'student')]


def _omgd(opt, plan):
    add_output_distill(opt)
    opt['train']['stages'] = [stage('distill', plan.total, list(plan.gt) + ['output_distill', 'distill'])]


def _no_supervised_stage(opt, plan):
    opt['train']['stages'] = [stage('distill', plan.s1 + plan.s2, list(plan.gt) + ['distill'], 'student'),
                              sdakd_stages(plan)[2]]


def _no_distill_stage(opt, plan):
    opt['train']['stages'] = [stage('supervised', plan.s1 + plan.s2, plan.gt), sdakd_stages(plan)[2]]


def _no_feature_kd(opt, plan):
    gt = list(plan.gt)
    opt['train']['stages'] = [sdakd_stages(plan)[0], stage('d_warmup', plan.s2, gt, 'student'),
                              stage('adversarial', plan.s3, gt + ['gan'], 'student')]


def _conv1x1_adapter(opt, plan):
    """The source's own schedule."""
    set_adapter(opt, 'conv1x1')


def _adv_in_stage2(opt, plan):
    stages = sdakd_stages(plan)
    stages[1] = stage('distill', plan.s2, list(plan.gt) + ['distill', 'gan'], 'student')
    opt['train']['stages'] = stages


#: method name -> :class:`Method`, in the order of the docs and tables
METHODS = OrderedDict((m.name, m) for m in (
    Method('sdakd', 'method', "SDAKD, the source file's own schedule: S1 GT losses; S2 + feature distillation, D_S "
           'trains, no adversarial gradient; S3 + adversarial loss from D_S.', _sdakd),
    Method('no_kd', 'baseline', "The teacher's own recipe at the student's width: GT losses for S1+S2, then + GAN "
           "loss against the student's own D (from scratch); no teacher signal.", _no_kd),
    Method('no_kd_halves', 'baseline', 'As no_kd with the budget split in halves (supervised, then + GAN), as '
           'Real-ESRGAN trains; the baseline of the SRVGGNetCompact students.', _no_kd_halves),
    Method('teacher_d', 'baseline', "SDAKD's schedule and feature distillation against the released teacher D, "
           'fine-tuned (Real-ESRGAN only: the released experiments/pretrained_models/RealESRGAN_x4plus_netD.pth, '
           'see docs/weights.md; the ncnn package does not ship it).', _teacher_d),
    Method('teacher_d_scratch', 'baseline', 'As teacher_d, but the teacher-size D is trained from scratch '
           '(sdakd.d_width: 1): the teacher-D baseline of GCFSR, which released no D, and a control beside teacher_d '
           'for Real-ESRGAN.', _teacher_d_scratch),
    Method('gan_compression', 'baseline', 'GAN Compression-style: one stage for the whole budget with GT losses + '
           'output distillation (L1 to the teacher image) + feature distillation through single 1x1-conv adaptors '
           '+ GAN loss against a teacher-size D from scratch.', _gan_compression),
    Method('omgd', 'baseline', 'OMGD-like, discriminator-free: one stage with GT losses + output distillation + '
           'feature distillation (MLP adaptors); no D, no GAN loss.', _omgd),
    Method('no_supervised_stage', 'ablation', 'No stage 1: S1+S2 as the distillation stage (feature KD + D_S '
           'warm-up from iteration 1), then S3.', _no_supervised_stage),
    Method('no_distill_stage', 'ablation', 'No stage 2: S1+S2 supervised only, then S3; feature KD and D_S both '
           'start with the adversarial stage.', _no_distill_stage),
    Method('no_feature_kd', 'ablation', "SDAKD's stages and student D without feature-map distillation.",
           _no_feature_kd),
    Method('conv1x1_adapter', 'ablation', "SDAKD with GAN Compression's single 1x1-conv adaptor instead of the MLP.",
           _conv1x1_adapter),
    Method('adv_in_stage2', 'ablation', 'The generator already gets adversarial gradient from D_S in stage 2.',
           _adv_in_stage2),
))
BASELINES = tuple(name for name, m in METHODS.items() if m.kind == 'baseline')
ABLATIONS = tuple(name for name, m in METHODS.items() if m.kind == 'ablation')


# ---------------------------------------------------------------------------------------------- applying them
def schedule_of(opt, total_iter=None):
    """The :class:`Schedule` of a three-stage SDAKD option dict; stage lengths rescaled to ``total_iter`` if given."""
    stages = (opt.get('train') or {}).get('stages') or []
    if len(stages) != 3:
        raise ValueError(f'train.stages: the methods vary a three-stage SDAKD schedule, found {len(stages)} stages')
    iters = [int(s['iters']) for s in stages]
    if total_iter is not None:
        if total_iter < 3:
            raise ValueError(f'total_iter={total_iter}: each of the three stages needs at least one iteration')
        scaled = [max(1, round(total_iter * i / sum(iters))) for i in iters[:2]]
        iters = scaled + [total_iter - sum(scaled)]
    from sdakd_basicsr.losses.terms import LOSS_TERMS
    gt = tuple(name for name in stages[0]['losses'] if name in LOSS_TERMS and LOSS_TERMS[name].target == 'gt')
    return Schedule(iters[0], iters[1], iters[2], gt)


def rescale_scheduler(train_opt, total_iter):
    """Scale a step schedule's ``milestones`` or a cosine schedule's ``periods`` from the file's budget to
    ``total_iter`` (the same shape of learning-rate curve over the new budget)."""
    scheduler, old_total = train_opt.get('scheduler') or {}, train_opt['total_iter']
    if 'milestones' in scheduler:
        scheduler['milestones'] = [max(1, round(m * total_iter / old_total)) for m in scheduler['milestones']]
    if 'periods' in scheduler:
        periods = [max(1, round(p * total_iter / old_total)) for p in scheduler['periods'][:-1]]
        scheduler['periods'] = periods + [max(1, total_iter - sum(periods))]


def compact_student(num_feat, num_conv):
    """An edit that makes the student an SRVGGNetCompact (the architecture of realesr-general-x4v3).

    The student D width follows from capacity (``sdakd.d_width: capacity``, docs/srvgg_student.md); the teacher
    taps stay and the student taps follow by relative depth (``distill_opt.teacher_layers``).
    """
    def edit(opt):
        sdakd_opt = opt['sdakd']
        items = [(k, v) for k, v in sdakd_opt.items() if k not in ('width', 'd_width', 'bicubic_skip')]
        position = list(sdakd_opt).index('width') if 'width' in sdakd_opt else len(items)
        items.insert(position, ('d_width', 'capacity'))
        opt['sdakd'] = OrderedDict(items)
        network_g = OrderedDict(type='SRVGGNetCompact', num_in_ch=3, num_out_ch=3, num_feat=num_feat,
                                num_conv=num_conv, upscale=4, act_type='prelu')
        items = [(k, v) for k, v in opt.items() if k != 'network_g']
        position = [k for k, _ in items].index('network_g_teacher')
        items.insert(position, ('network_g', network_g))
        opt.clear()
        opt.update(items)
        distill = opt['train'].get('distill_opt')
        if distill is not None and 'layers' in distill:
            opt['train']['distill_opt'] = OrderedDict(
                ('teacher_layers' if k == 'layers' else k, v) for k, v in distill.items())
    return edit


def make_variant(opt, method, name=None, width=None, seed=None, total_iter=None, batch_size=None, student=None):
    """A new option dict: ``opt`` (a three-stage SDAKD option dict) turned into ``method``.

    Args:
        opt (dict): Source options (not modified).
        method (str): A key of :data:`METHODS`.
        name (str | None): Experiment name.
        width (float | None): ``sdakd.width``, if it should change.
        seed (int | None): ``manual_seed``, if it should change.
        total_iter (int | None): New budget; the stage lengths keep their proportions, and validation and the
            checkpoint come at the end.
        batch_size (int | None): ``datasets.train.batch_size_per_gpu``, if it should change.
        student (callable | None): A student edit such as :func:`compact_student`.
    """
    if method not in METHODS:
        raise ValueError(f'unknown method {method!r}; choose from {list(METHODS)}')
    if opt.get('model_type') != 'SDAKDModel':
        raise ValueError(f'model_type is {opt.get("model_type")!r}; the methods vary SDAKDModel option files')
    opt = deepcopy(opt)
    plan = schedule_of(opt, total_iter)
    if name is not None:
        opt['name'] = name
    if width is not None:
        opt.setdefault('sdakd', OrderedDict())['width'] = width
    if seed is not None:
        opt['manual_seed'] = seed
    if total_iter is not None:
        rescale_scheduler(opt['train'], total_iter)
        opt['train']['total_iter'] = total_iter
        for entry, iters in zip(opt['train']['stages'], (plan.s1, plan.s2, plan.s3)):
            entry['iters'] = iters
        opt['val']['val_freq'] = total_iter
        opt['logger']['save_checkpoint_freq'] = total_iter
    if batch_size is not None:
        opt['datasets']['train']['batch_size_per_gpu'] = batch_size
    if student is not None:
        student(opt)
    METHODS[method].edit(opt, plan)
    return opt
