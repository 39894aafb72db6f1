"""Write the width variants, baselines and ablations of the main SDAKD option files, for both families.

Each variant is the main file with a few lines changed (name, width, stages, adapter, discriminator), so that
all of them share one recipe and a fix to the main file reaches every variant:

    python scripts/make_option_variants.py          # (re)write options/{,baselines/,ablations/}*.yml
    python scripts/make_option_variants.py --check  # fail if a written file is out of date (tests run this)

:func:`make_variant` turns any SDAKD option text into one method of :data:`METHODS`; ``scripts/make_sweep.py``
uses it for methods x widths x seeds. ``docs/baselines.md`` explains every method in one line.
"""
import argparse
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: the released Real-ESRGAN x4plus discriminator (not shipped by the ncnn package: download it separately)
REALESRGAN_TEACHER_D = 'experiments/pretrained_models/RealESRGAN_x4plus_netD.pth'

#: method -> one-line summary (written into each generated file and into docs/baselines.md)
METHODS = {
    'sdakd': 'SDAKD: supervised stage, then feature distillation with D_S warm-up, then + adversarial loss from D_S.',
    'no_kd': "Baseline: the student trained with the teacher's own recipe at the student's width (its own D "
             'from scratch, no teacher signal).',
    'teacher_d': "Baseline: SDAKD's schedule and distillation, but against the teacher's released discriminator "
                 '(fine-tuned).',
    'teacher_d_scratch': "Baseline: SDAKD's schedule and distillation against a full-width (teacher-size) "
                         'discriminator trained from scratch (GCFSR released no D; for x4plus a control of teacher_d).',
    'gan_compression': 'Baseline (GAN Compression-style): from the first iteration, output distillation + feature '
                       'distillation through single 1x1-conv adaptors + GAN loss against a full-width D from scratch.',
    'omgd': 'Baseline (OMGD-like): discriminator-free; output distillation + feature distillation (+ the GT '
            'losses), for the whole budget.',
    'no_supervised_stage': 'Ablation (no stage 1): feature distillation and D_S warm-up from the first iteration.',
    'no_distill_stage': 'Ablation (no stage 2): stage 2 iterations go to stage 1; D_S starts with the adversarial '
                        'stage.',
    'no_feature_kd': 'Ablation: SDAKD without feature-map distillation (student D and stages kept).',
    'conv1x1_adapter': "Ablation: GAN Compression's single 1x1-conv adaptor instead of SDAKD's MLP.",
    'adv_in_stage2': 'Ablation: the generator already gets adversarial gradient in stage 2.',
}
BASELINES = ('no_kd', 'teacher_d', 'teacher_d_scratch', 'gan_compression', 'omgd')
ABLATIONS = ('no_supervised_stage', 'no_distill_stage', 'no_feature_kd', 'conv1x1_adapter', 'adv_in_stage2')


def replace_once(text, pattern, replacement, what):
    new_text, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f'{what}: pattern {pattern!r} not found in the source option file')
    return new_text


def set_name(text, name):
    return replace_once(text, r'^name: .*$', f'name: {name}', 'name')


def set_width(text, width):
    return replace_once(text, r'^  width: [0-9.]+( *#.*)?$', f'  width: {width}', 'sdakd.width')


def set_full_width_d(text):
    return replace_once(text, r'^(  width: [0-9.]+.*)$',
                        r'\1\n  d_width: 1.0  # full-width discriminator, trained from scratch', 'sdakd.width')


def set_seed(text, seed):
    return replace_once(text, r'^manual_seed: \d+.*$', f'manual_seed: {seed}', 'manual_seed')


def set_total_iter(text, total_iter):
    text = replace_once(text, r'^  total_iter: \d+.*$', f'  total_iter: {total_iter}', 'train.total_iter')
    text = replace_once(text, r'^  val_freq: .*$', f'  val_freq: {total_iter}', 'val.val_freq')
    return replace_once(text, r'^  save_checkpoint_freq: .*$', f'  save_checkpoint_freq: {total_iter}',
                        'logger.save_checkpoint_freq')


def set_stages(text, stages):
    lines = ''.join(f'    - {stage}\n' for stage in stages)
    return replace_once(text, r'^  stages:\n(    - .*\n)+', f'  stages:\n{lines}', 'train.stages')


def set_adapter(text, adapter):
    return replace_once(text, r'^  adapter: \w+.*$', f'  adapter: {adapter}', 'network_feat_adapters.adapter')


def set_teacher_d(text, path):
    """``path.pretrain_network_d_teacher`` (replaced, or added before ``path.resume_state``)."""
    lines = f'  pretrain_network_d_teacher: {path}\n  param_key_d_teacher: params'
    if re.search(r'^  pretrain_network_d_teacher: ', text, flags=re.MULTILINE):
        return replace_once(text, r'^  pretrain_network_d_teacher: .*$', lines, 'path.pretrain_network_d_teacher')
    return replace_once(text, r'^(  resume_state: .*)$', lines + r'\n\1', 'path.resume_state')


def add_output_distill(text):
    """An L1 loss between student and teacher images (``output_distill_opt``), after ``distill_opt``."""
    block = ('  output_distill_opt:  # student image vs. teacher image\n    type: L1Loss\n    loss_weight: 1.0\n'
             '    reduction: mean\n')
    return replace_once(text, r'^(  distill_opt:\n(    .*\n)+)', lambda m: m.group(1) + block, 'train.distill_opt')


def stage(name, iters, losses, train_d=None):
    extra = f', train_d: {train_d}' if train_d else ''
    return f'{{name: {name}, iters: {iters}, losses: [{", ".join(losses)}]{extra}}}'


def schedule(text, total_iter=None):
    """(s1, s2, s3, gt_losses) of a three-stage SDAKD file; iterations rescaled to ``total_iter`` if given."""
    opt = yaml.safe_load(text)
    stages = opt['train']['stages']
    if len(stages) != 3:
        raise ValueError(f'expected the three SDAKD stages in train.stages, found {len(stages)}')
    iters = [int(s['iters']) for s in stages]
    if total_iter is not None:
        if total_iter < 3:
            raise ValueError(f'total_iter={total_iter}: each of the three stages needs at least one iteration')
        scaled = [max(1, round(total_iter * i / sum(iters))) for i in iters[:2]]
        iters = scaled + [total_iter - sum(scaled)]
    return iters[0], iters[1], iters[2], list(stages[0]['losses'])


def make_variant(text, method, name, summary_source, width=None, seed=None, total_iter=None):
    """``text`` (an SDAKD option file) turned into ``method``; see :data:`METHODS`.

    Args:
        text (str): Source option file contents (three-stage SDAKD schedule).
        method (str): A key of :data:`METHODS`.
        name (str): Experiment name.
        summary_source (str): Source file name, written into the header.
        width (float | None): Student width, if it should change.
        seed (int | None): ``manual_seed``, if it should change.
        total_iter (int | None): New budget; stage lengths keep their proportions, validation and the checkpoint
            come at the end.
    """
    if method not in METHODS:
        raise ValueError(f'unknown method {method!r}; choose from {sorted(METHODS)}')
    s1, s2, s3, gt = schedule(text, total_iter)
    if total_iter is not None:
        text = set_total_iter(text, total_iter)
    text = set_name(text, name)
    if width is not None:
        text = set_width(text, width)
    if seed is not None:
        text = set_seed(text, seed)
    sdakd = [stage('supervised', s1, gt), stage('distill', s2, gt + ['distill'], 'student'),
             stage('adversarial', s3, gt + ['distill', 'gan'], 'student')]
    total = s1 + s2 + s3
    if method == 'sdakd':
        stages = sdakd if total_iter is not None else None
    elif method == 'no_kd':
        stages = [stage('supervised', s1 + s2, gt), stage('gan', s3, gt + ['gan'], 'student')]
    elif method == 'teacher_d':
        if yaml.safe_load(text).get('sdakd', {}).get('family') != 'realesrgan':
            raise ValueError('teacher_d needs released teacher discriminator weights, which only Real-ESRGAN has; '
                             'use teacher_d_scratch (a teacher-size D trained from scratch)')
        text = set_teacher_d(text, REALESRGAN_TEACHER_D)
        stages = [sdakd[0], stage('distill', s2, gt + ['distill'], 'teacher'),
                  stage('adversarial', s3, gt + ['distill', 'gan'], 'teacher')]
    elif method == 'teacher_d_scratch':
        text, stages = set_full_width_d(text), sdakd
    elif method == 'gan_compression':
        text = set_adapter(set_full_width_d(add_output_distill(text)), 'conv1x1')
        stages = [stage('distill_gan', total, gt + ['output_distill', 'distill', 'gan'], 'student')]
    elif method == 'omgd':
        text = add_output_distill(text)
        stages = [stage('distill', total, gt + ['output_distill', 'distill'])]
    elif method == 'no_supervised_stage':
        stages = [stage('distill', s1 + s2, gt + ['distill'], 'student'), sdakd[2]]
    elif method == 'no_distill_stage':
        stages = [stage('supervised', s1 + s2, gt), sdakd[2]]
    elif method == 'no_feature_kd':
        stages = [sdakd[0], stage('d_warmup', s2, gt, 'student'), stage('adversarial', s3, gt + ['gan'], 'student')]
    elif method == 'conv1x1_adapter':
        text, stages = set_adapter(text, 'conv1x1'), sdakd if total_iter is not None else None
    else:  # adv_in_stage2
        stages = [sdakd[0], stage('distill', s2, gt + ['distill', 'gan'], 'student'), sdakd[2]]
    if stages is not None:
        text = set_stages(text, stages)
    return with_header(text, summary_source, METHODS[method])


def with_header(text, source, summary):
    body = text.split('\n', 1)[1] if text.startswith('# ') else text
    while body.startswith('#'):
        body = body.split('\n', 1)[1]
    return (f'# GENERATED by scripts/make_option_variants.py from {source}; edit that file and rerun the script.\n'
            f'# {summary}\n' + body)


def family_variants(source, tag, width_name_prefix, methods):
    """Width variants of ``source`` and its 1/2-width baselines and ablations (``options/{baselines,ablations}``)."""
    base = open(os.path.join(REPO, source)).read()
    variants = {}
    for width, wtag in ((0.25, 'w0.25'), (0.125, 'w0.125')):
        variants[f'options/sdakd_{tag}_{wtag}.yml'] = with_header(
            set_width(set_name(base, f'{width_name_prefix}_{wtag}'), width), source,
            f'SDAKD, student G and D at width {width}.')
    for method in methods:
        folder = 'baselines' if method in BASELINES else 'ablations'
        kind = folder[:-1]
        variants[f'options/{folder}/{tag}_w0.5_{method}.yml'] = make_variant(
            base, method, f'{kind}_{tag}_w0.5_{method}', source)
    return variants


def all_variants():
    everything = BASELINES + ABLATIONS
    # GCFSR released no discriminator: only the from-scratch teacher-size D baseline exists for it
    return {**family_variants('options/sdakd_realesrgan_x4plus.yml', 'realesrgan_x4plus', 'sdakd_realesrgan_x4plus',
                              everything),
            **family_variants('options/sdakd_gcfsr.yml', 'gcfsr', 'sdakd_gcfsr_512',
                              [m for m in everything if m != 'teacher_d'])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true', help='only check that the written files are up to date')
    args = parser.parse_args(argv)
    stale = []
    for rel_path, text in sorted(all_variants().items()):
        path = os.path.join(REPO, rel_path)
        current = open(path).read() if os.path.exists(path) else None
        if current == text:
            continue
        stale.append(rel_path)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(text)
            print(f'wrote {rel_path}')
    if args.check and stale:
        sys.exit(f'out of date (run python scripts/make_option_variants.py): {stale}')
    return stale


if __name__ == '__main__':
    main()
