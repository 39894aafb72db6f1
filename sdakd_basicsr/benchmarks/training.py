"""Training cost of SDAKD per stage, measured on the real model's step (``SDAKDModel.optimize_parameters``).

The options come from the family's main SDAKD option file (``options/sdakd_realesrgan_x4plus.yml`` or
``options/sdakd_gcfsr.yml``), with the teacher shrunk by ``--set`` where a CPU cannot train the full one.
One SDAKDModel gets the file's stages plus the reference stage of the no-KD baseline
(``options/baselines/realesrgan_x4plus_w0.5_no_kd.yml``: pixel + perceptual + GAN, student D trained, no
teacher); the reference is that stage's step followed by the teacher's no-grad forward pass (what any
distillation needs at least), so the overhead of each SDAKD stage is the price of its taps, adapters and
feature losses. Every step kind is timed in interleaved rounds on the same fixed batch (no data loading, no
degradation synthesis: both cost the same in every stage). The teacher has random weights.

Examples:
    python -m sdakd_basicsr.benchmarks.training --family realesrgan --set num_block=6 --threads 2
    python -m sdakd_basicsr.benchmarks.training --family gcfsr --set out_size=128 --set-d out_size=128 --threads 2
    python -m sdakd_basicsr.benchmarks.training --family realesrgan --device cuda --batch 4 --patch 64 --json t.json
"""
import argparse
import contextlib
import os
import sys
import tempfile
from copy import deepcopy

import torch

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers SDAKDModel and the losses)
from basicsr.archs import build_network

from sdakd_basicsr.families import DEFAULT_FAMILY, build_family
from sdakd_basicsr.models.sdakd_model import SDAKDModel
from sdakd_basicsr.utils.options import load_options, main_option_files
from sdakd_basicsr.utils.profiling import (count_params, interleaved_times, load_average, markdown_table,
                                           median_or_none, parse_key_values, run_benchmark)

#: family -> its main SDAKD option file in the repository
OPTION_FILES = main_option_files()
#: the no-KD baseline's GAN stage (its perceptual loss is dropped with the others when VGG weights are absent)
REFERENCE_STAGE = {'name': 'no_kd_gan', 'losses': ['pixel', 'perceptual', 'gan'], 'train_d': 'student'}
#: SDAKD's last stage should cost at most this much more than the reference, in percent
TARGET_OVERHEAD_PCT = 15.0
#: iterations per stage: each timed iteration lies well inside its stage
STAGE_ITERS = 10**6


def parse_args(argv=None):
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--family', default=DEFAULT_FAMILY, choices=sorted(OPTION_FILES))
    parser.add_argument('-opt', default=None, help='SDAKD option file (default: the family\'s main one)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='override teacher generator options, e.g. num_block=6 (x4plus has 23) or out_size=128')
    parser.add_argument('--set-d', nargs='*', default=[], metavar='KEY=VALUE',
                        help='override teacher discriminator options, e.g. out_size=128 for GCFSR')
    parser.add_argument('--width', type=float, default=None, help='student width (default: the file\'s)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--patch', type=int, default=32,
                        help='Real-ESRGAN: LR patch size (GT is scale times larger); GCFSR uses out_size')
    parser.add_argument('--perceptual', choices=['auto', 'file', 'random', 'off'], default='auto',
                        help='perceptual loss: file = the VGG weights named in perceptual_opt (must exist); random '
                             '= a random-weight VGG of the same architecture (same cost, for timing only); auto = '
                             'file when it exists, else random (default); off = dropped from every stage')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations per step kind')
    parser.add_argument('--repeats', type=int, default=5, help='timed iterations per step kind')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda / cuda:N')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads for CPU runs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write all results to this file')
    return parser.parse_args(argv)


def _vgg_file(perceptual_opt):
    from sdakd_basicsr.losses.offline_perceptual_loss import default_vgg_weights_path
    path = perceptual_opt.get('vgg_weights_path') or default_vgg_weights_path(perceptual_opt.get('vgg_type', 'vgg19'))
    return os.path.abspath(path)


def write_random_vgg(path, vgg_type):
    """A torchvision VGG state dict with random conv weights (the classifier, never run, as zero views)."""
    import torchvision
    with torch.device('meta'):
        layout = {k: v.shape for k, v in getattr(torchvision.models, vgg_type)(weights=None).state_dict().items()}
    state = {k: torch.randn(shape) * 0.05 if k.startswith('features.') else torch.zeros(1).expand(shape)
             for k, shape in layout.items()}
    torch.save(state, path)
    return path


def training_options(args, workdir):
    """SDAKDModel options as ``parse_options`` would leave them, experiment and random teacher under ``workdir``.

    Returns:
        tuple[dict, list[str]]: the options and notes on what was changed from the option file.
    """
    opt = load_options(args.opt or OPTION_FILES[args.family])
    notes = []
    device = torch.device(args.device)
    opt['network_g_teacher'] = dict(opt['network_g_teacher'], **parse_key_values(args.set))
    opt['network_d_teacher'] = dict(opt['network_d_teacher'], **parse_key_values(args.set_d, '--set-d'))
    opt.pop('network_g', None)
    opt.pop('network_d', None)  # derived from the teacher options and the width
    if args.width is not None:
        opt['sdakd'] = dict(opt.get('sdakd') or {}, width=args.width)

    torch.manual_seed(args.seed)
    with contextlib.redirect_stdout(sys.stderr):
        teacher = build_network(deepcopy(opt['network_g_teacher']))
    checkpoint = os.path.join(workdir, 'teacher_g.pth')
    torch.save({'params_ema': teacher.state_dict()}, checkpoint)

    train = opt['train']
    layers = (train.get('distill_opt') or {}).get('layers')
    if layers and not set(layers) <= {name for name, _ in teacher.named_modules()}:
        train['distill_opt'] = dict(train['distill_opt'], layers=None)
        notes.append(f'distill_opt.layers {list(layers)} do not all exist in the reduced teacher: the family\'s '
                     'default taps are used')
    stages = [dict(stage) for stage in train['stages']] + [dict(REFERENCE_STAGE)]
    perceptual = train.get('perceptual_opt')
    keep_perceptual = perceptual is not None and args.perceptual != 'off'
    if keep_perceptual:
        vgg_file = _vgg_file(perceptual)
        if args.perceptual == 'file' and not os.path.isfile(vgg_file):
            raise SystemExit(f'--perceptual file: {vgg_file} (train.perceptual_opt.vgg_weights_path) is missing; put '
                             'the torchvision VGG weights there, or use --perceptual random or off')
        if args.perceptual == 'random' or not os.path.isfile(vgg_file):
            vgg_type = perceptual.get('vgg_type', 'vgg19')
            train['perceptual_opt'] = dict(perceptual, vgg_weights_path=write_random_vgg(
                os.path.join(workdir, f'random_{vgg_type}.pth'), vgg_type))
            notes.append(f'perceptual loss with a random-weight {vgg_type} (same cost as ImageNet weights)')
    elif perceptual is not None:
        notes.append('perceptual loss dropped from every stage (--perceptual off)')
    if not keep_perceptual:
        train.pop('perceptual_opt', None)
        for stage in stages:
            stage['losses'] = [name for name in stage['losses'] if name != 'perceptual']
    train['stages'] = [dict(stage, iters=STAGE_ITERS) for stage in stages]
    train['total_iter'] = STAGE_ITERS * len(stages)

    dataset_type = opt['datasets']['train']['type']
    if dataset_type == 'RealESRGANDataset':  # batches are fed by hand: no on-the-fly degradation
        dataset_type = 'PairedImageDataset'
    opt['datasets'] = {'train': {'name': 'benchmark', 'type': dataset_type, 'phase': 'train'}}  # fed by hand
    opt.pop('val', None)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=workdir,
               num_gpu=1 if device.type == 'cuda' else 0, manual_seed=args.seed)
    exp = os.path.join(workdir, 'experiments', opt['name'])
    opt['path'] = dict(opt['path'], pretrain_network_g_teacher=checkpoint, param_key_g_teacher='params_ema',
                       experiments_root=exp, models=os.path.join(exp, 'models'),
                       training_states=os.path.join(exp, 'training_states'), log=exp,
                       visualization=os.path.join(exp, 'visualization'))
    for key in ('models', 'training_states', 'visualization'):
        os.makedirs(opt['path'][key], exist_ok=True)
    return opt, notes


def fixed_batch(args, opt):
    """One random training batch in the family's value range, as the data loader would give it."""
    gen = torch.Generator().manual_seed(args.seed)
    family = build_family(args.family, opt.get('sdakd'))
    size = family.fixed_input_size(opt['network_g_teacher'])
    if size:  # input and output at that size: the LR image is given resized to it, with the family's conditions
        low, high = family.value_range
        gt = torch.rand(args.batch, 3, size, size, generator=gen) * (high - low) + low
        conditions = {k: v.expand(args.batch, *v.shape[1:]).clone()
                      for k, v in family.dummy_inputs(opt['network_g_teacher'], 'cpu', size).items() if k != 'lq'}
        return dict(conditions, lq=gt.clone(), gt=gt)
    scale = opt['network_g_teacher'].get('scale', opt.get('scale', 4))
    return {'lq': torch.rand(args.batch, 3, args.patch, args.patch, generator=gen),
            'gt': torch.rand(args.batch, 3, args.patch * scale, args.patch * scale, generator=gen)}


def benchmark(args):
    """Seconds per iteration of every stage of one SDAKDModel and of the reference, in interleaved rounds.

    Returns:
        dict: ``config`` and ``rows`` (one per step kind, with the overhead vs. the reference in %).
    """
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory(prefix='sdakd-benchmark-') as workdir:
        opt, notes = training_options(args, workdir)
        family = build_family(args.family, opt.get('sdakd'))
        torch.manual_seed(args.seed)
        with contextlib.redirect_stdout(sys.stderr):  # basicsr's registry notices stay off the markdown
            model = SDAKDModel(opt)
        data = fixed_batch(args, opt)

        def step_of(stage):
            counter = iter(range(stage.first_iter, stage.last_iter + 1))

            def step():
                model.feed_data(data)
                model.optimize_parameters(next(counter))
            return step

        steps = {stage.name: step_of(stage) for stage in model.stages}
        reference_step = steps[REFERENCE_STAGE['name']]

        def teacher_forward():
            with torch.no_grad():
                family.generate(model.net_g_teacher, model.inputs)

        def reference():
            reference_step()
            teacher_forward()

        model.feed_data(data)  # model.inputs for the teacher forward
        fns = dict(reference=reference, teacher_forward=teacher_forward, **steps)
        print(f'[training] {args.family}: {len(fns)} step kinds x ({args.warmup} warm-up + {args.repeats} timed) '
              'iterations ...', file=sys.stderr, flush=True)
        times, errors = interleaved_times(fns, args.repeats, args.warmup, device)
        if errors:
            raise RuntimeError(f'training steps failed: {errors}')

        descriptions = {stage.name: stage.describe() for stage in model.stages}
        descriptions.update(reference=f"'{REFERENCE_STAGE['name']}' step + teacher no-grad forward (reference)",
                            teacher_forward='teacher no-grad forward alone')
        reference_s, reference_best = median_or_none(times['reference']), min(times['reference'])
        rows = []
        for name, seconds_list in times.items():
            seconds, best = median_or_none(seconds_list), min(seconds_list)
            is_reference = name == 'reference'
            rows.append(dict(step=name, description=descriptions[name], s_per_iter=seconds, best_s=best,
                             times_s=seconds_list,
                             overhead_pct=None if is_reference else (seconds / reference_s - 1) * 100,
                             best_overhead_pct=None if is_reference else (best / reference_best - 1) * 100))
        sdakd_stages = [stage.name for stage in model.stages if stage.name != REFERENCE_STAGE['name']]
        config = dict(family=args.family, device=str(device), threads=torch.get_num_threads(), batch=args.batch,
                      input_shape=list(data['lq'].shape), gt_shape=list(data['gt'].shape), warmup=args.warmup,
                      repeats=args.repeats, option_file=args.opt or os.path.join(
                          'options', os.path.basename(OPTION_FILES[args.family])),
                      network_g_teacher=dict(model.opt['network_g_teacher']), network_g=dict(model.opt['network_g']),
                      network_d=dict(model.opt['network_d']), width=model.opt['sdakd']['width'],
                      distill_layers=list(model.student_taps.layer_names), ema_decay=opt['train'].get('ema_decay'),
                      last_sdakd_stage=sdakd_stages[-1], notes=notes, load_average=load_average(),
                      params={'teacher_g': count_params(model.net_g_teacher), 'student_g': count_params(model.net_g),
                              'student_d': count_params(model.net_d),
                              'feature_adapters': count_params(model.net_feat_adapters)})
    return {'config': config, 'rows': rows}


def _fmt(value, spec, suffix=''):
    return 'n/a' if value is None else f'{value:{spec}}{suffix}'


def format_markdown(result):
    """The configuration in words, then one row per step kind."""
    config = result['config']
    params = config['params']
    out = [f"### {config['family']} training ({config['device']}, {config['threads']} threads, median s/iter of "
           f"{config['repeats']} after {config['warmup']} warm-up, step kinds interleaved; the best of them too, "
           "less sensitive to other load on a shared machine)",
           f"Options: {config['option_file']}; batch {config['batch']}, input {config['input_shape'][1:]}, GT "
           f"{config['gt_shape'][1:]}; teacher {config['network_g_teacher']} ({params['teacher_g'] / 1e6:.2f} M "
           f"params); width {config['width']:g}: student G {params['student_g'] / 1e6:.2f} M, student D "
           f"{params['student_d'] / 1e6:.2f} M; distillation taps {config['distill_layers']} with feature adapters "
           f"({params['feature_adapters'] / 1e6:.2f} M); EMA decay {config['ema_decay']}. "
           + ' '.join(f'Note: {note}.' for note in config['notes'])
           + f" Load average at the end: {config['load_average']}.", '']
    table = []
    for row in result['rows']:
        target = ''
        if row['step'] == config['last_sdakd_stage']:
            verdict = ('n/a' if row['overhead_pct'] is None
                       else 'met' if row['overhead_pct'] <= TARGET_OVERHEAD_PCT else 'MISSED')
            target = f'≤{TARGET_OVERHEAD_PCT:g} %: {verdict}'
        overheads = ['(reference)'] * 2 if row['step'] == 'reference' else [
            _fmt(row['overhead_pct'], '+.1f', ' %'), _fmt(row['best_overhead_pct'], '+.1f', ' %')]
        table.append([row['step'], row['description'], _fmt(row['s_per_iter'], '.3f'), _fmt(row['best_s'], '.3f')]
                     + overheads + [target])
    out.append(markdown_table(['Step', 'What runs', 'median s/iter', 'best s/iter', 'Overhead vs. reference (median)',
                               'Overhead (best)', 'Target'], table))
    return '\n'.join(out)


def main(argv=None):
    """Measure, print markdown, optionally write JSON; returns the results."""
    return run_benchmark('SDAKD training benchmark', parse_args(argv), benchmark, format_markdown)


if __name__ == '__main__':
    main()
