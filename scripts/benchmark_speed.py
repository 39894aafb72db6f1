"""Speed benchmark of SDAKD: Real-ESRGAN teacher vs. width-reduced students (inference), the cost of one
training iteration per SDAKD stage vs. a plain student GAN step (training), and peak memory of a command.

Everything is measured in one run on one machine and printed as markdown tables; ``--json`` also writes the
numbers to a file. Timings are medians after warm-up; on a shared or busy machine they are noisy, so the
script prints the load average next to them.

Examples:
    python scripts/benchmark_speed.py --threads 2
    python scripts/benchmark_speed.py --parts inference --sizes 64 128 --channels-last --compile
    python scripts/benchmark_speed.py --device cuda --json speed_cuda.json
    python scripts/benchmark_speed.py --peak-rss-of python sdakd_basicsr/train.py -opt options/demo/x.yml
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from copy import deepcopy
from fractions import Fraction

import torch
import yaml

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers SDAKDModel and the losses)
from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.utils.options import ordered_yaml

from sdakd_basicsr.families import build_family
from sdakd_basicsr.models.sdakd_model import SDAKDModel
from sdakd_basicsr.utils.profiling import (count_macs, count_params, environment, load_average, markdown_table,
                                           median_or_none, synchronize, time_once)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_YML = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_realesrgan_tiny.yml')
SCALE = 4

#: the 1/2-width student should reach this speed-up on CPU (its MAC ratio is just under 4)
TARGET_SPEEDUP_HALF = 3.8
#: SDAKD's extra cost over the plain reference step in stage 3, in percent
TARGET_OVERHEAD_PCT = 15.0


# ---------------------------------------------------------------------------------------------- options
def parse_args(argv=None):
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--parts', nargs='+', default=['inference', 'training'], choices=['inference', 'training'],
                        help='what to benchmark (default: both)')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda / cuda:N')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads for CPU runs (default: torch\'s own choice; the value used '
                             'is printed)')
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write all results to this file')
    parser.add_argument('--seed', type=int, default=0)

    teacher = parser.add_argument_group('teacher generator (RRDBNet; defaults: RealESRGAN_x4plus)')
    teacher.add_argument('--num-feat', type=int, default=64)
    teacher.add_argument('--num-block', type=int, default=23, help='RRDB blocks of the inference teacher')
    teacher.add_argument('--num-grow-ch', type=int, default=32)
    teacher.add_argument('--d-num-feat', type=int, default=64,
                         help='teacher UNetDiscriminatorSN num_feat (the student D is derived from it)')

    inference = parser.add_argument_group('inference')
    inference.add_argument('--widths', nargs='+', default=['1/2', '1/4', '1/8'],
                           help='student widths (fractions or decimals), derived through the family adapter')
    inference.add_argument('--sizes', nargs='+', type=int, default=[64, 128],
                           help='LR input sizes S of the 1x3xSxS inputs (default: 64 128)')
    inference.add_argument('--batch', type=int, default=1, help='inference batch size')
    inference.add_argument('--warmup', type=int, default=2, help='untimed forward passes per model and input')
    inference.add_argument('--repeats', type=int, default=5, help='timed forward passes per model and input')
    inference.add_argument('--channels-last', action='store_true',
                           help='also time a channels_last variant (weights and input)')
    inference.add_argument('--compile', action='store_true',
                           help='also time torch.compile(model, dynamic=False) (compiles during the warm-up)')

    training = parser.add_argument_group('training (one SDAKDModel iteration per stage vs. a plain GAN step)')
    training.add_argument('--train-num-block', type=int, default=6,
                          help='RRDB blocks of the training teacher (23 is slow on a CPU)')
    training.add_argument('--train-width', default='1/2', help='student width for the training benchmark')
    training.add_argument('--train-patch', type=int, default=32, help='LR patch size (GT is 4x larger)')
    training.add_argument('--train-batch', type=int, default=2)
    training.add_argument('--train-warmup', type=int, default=2, help='untimed iterations per step kind')
    training.add_argument('--train-repeats', type=int, default=5, help='timed iterations per step kind')

    parser.add_argument('--peak-rss-of', nargs=argparse.REMAINDER, default=None, metavar='CMD',
                        help='run CMD (everything after this flag) in a subprocess, report its peak resident '
                             'memory and exit without benchmarking')
    args = parser.parse_args(argv)
    if args.peak_rss_of is not None and not args.peak_rss_of:
        parser.error('--peak-rss-of needs a command after it')
    return args


def parse_width(text):
    """``'1/2'`` or ``'0.5'`` -> Fraction(1, 2)."""
    return Fraction(str(text)).limit_denominator(1 << 16)


def teacher_generator_opt(num_feat=64, num_block=23, num_grow_ch=32):
    """RRDBNet options as in a Real-ESRGAN x4 training file (RealESRGAN_x4plus with the defaults)."""
    return dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=num_feat, num_block=num_block,
                num_grow_ch=num_grow_ch, scale=SCALE)


def teacher_discriminator_opt(num_feat=64):
    """UNetDiscriminatorSN options as in Real-ESRGAN's x4plus GAN training file."""
    return dict(type='UNetDiscriminatorSN', num_in_ch=3, num_feat=num_feat, skip_connection=True)


def _fmt(value, spec, suffix=''):
    """``value`` formatted with ``spec`` plus ``suffix``, or 'n/a' for None."""
    return 'n/a' if value is None else f'{value:{spec}}{suffix}'


# ---------------------------------------------------------------------------------------------- inference
def inference_models(args):
    """``[(label, width, net options)]``: the teacher, then one student per width via the family adapter."""
    family = build_family('realesrgan')
    teacher_opt = teacher_generator_opt(args.num_feat, args.num_block, args.num_grow_ch)
    models = [('teacher', Fraction(1), teacher_opt)]
    for text in args.widths:
        width = parse_width(text)
        models.append((f'student {width}', width, family.student_generator_opt(teacher_opt, float(width))))
    return models


def _variants(args):
    """``[(name, channels_last, compiled)]`` of the inference variants asked for."""
    variants = [('eager', False, False)]
    if args.channels_last:
        variants.append(('channels_last', True, False))
    if args.compile:
        variants.append(('compile', False, True))
    if args.channels_last and args.compile:
        variants.append(('compile+channels_last', True, True))
    return variants


def benchmark_inference(args):
    """Parameters, MACs and median latency of teacher and students, per input size and variant.

    Models of one size and variant are timed in interleaved rounds (teacher, students, teacher, ...) so that
    load changes on a shared machine hit all of them alike.

    Returns:
        dict: ``config`` and ``rows`` (one dict per variant, size and model).
    """
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    specs = inference_models(args)
    base_nets = [build_network(deepcopy(net_opt)).eval() for _, _, net_opt in specs]
    rows = []
    for size in args.sizes:
        shape = (args.batch, 3, size, size)
        inputs = torch.rand(shape)
        macs = [count_macs(net, inputs) for net in base_nets]  # architecture property: counted once, on CPU
        for variant, channels_last, compiled in _variants(args):
            print(f'[inference] {variant}, input {shape} ...', file=sys.stderr, flush=True)
            x = inputs.to(device)
            nets = []
            for (_, _, net_opt), base in zip(specs, base_nets):
                net = build_network(deepcopy(net_opt))
                net.load_state_dict(base.state_dict())
                net = net.to(device).eval()
                if channels_last:
                    net = net.to(memory_format=torch.channels_last)
                nets.append(torch.compile(net, dynamic=False) if compiled else net)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            errors, times = [None] * len(nets), [[] for _ in nets]
            with torch.inference_mode():
                for i, net in enumerate(nets):
                    try:
                        for _ in range(args.warmup):
                            net(x)
                        synchronize(device)
                    except Exception as error:  # e.g. torch.compile without a working compiler: report, go on
                        first_line = str(error).splitlines()[0] if str(error) else ''
                        errors[i] = f'{type(error).__name__}: {first_line}'.replace('|', '/')  # keeps the table
                for _ in range(args.repeats):
                    for i, net in enumerate(nets):
                        if errors[i] is None:
                            times[i].append(time_once(lambda net=net: net(x), device))
            for (label, width, net_opt), base, mac, ts, error in zip(specs, base_nets, macs, times, errors):
                rows.append(dict(variant=variant, input=list(shape), model=label, width=str(width),
                                 num_feat=net_opt['num_feat'], num_grow_ch=net_opt['num_grow_ch'],
                                 num_block=net_opt['num_block'], params=count_params(base), macs=mac,
                                 latency_ms=None if error or not ts else median_or_none(ts) * 1000,
                                 latencies_ms=[t * 1000 for t in ts], error=error))
            del nets
    _add_ratios(rows)
    config = dict(device=str(device), threads=torch.get_num_threads(), sizes=args.sizes, batch=args.batch,
                  warmup=args.warmup, repeats=args.repeats, variants=[v[0] for v in _variants(args)],
                  teacher=teacher_generator_opt(args.num_feat, args.num_block, args.num_grow_ch),
                  widths=[str(parse_width(w)) for w in args.widths],
                  load_average=load_average())
    return {'config': config, 'rows': rows}


def _add_ratios(rows):
    """Speed-up and MAC ratio of every model vs. the teacher of the same variant and input."""
    teachers = {(r['variant'], tuple(r['input'])): r for r in rows if r['model'] == 'teacher'}
    for row in rows:
        teacher = teachers[(row['variant'], tuple(row['input']))]
        row['mac_ratio'] = teacher['macs'] / row['macs'] if row['macs'] else None
        row['speedup'] = (teacher['latency_ms'] / row['latency_ms']
                          if teacher['latency_ms'] and row['latency_ms'] else None)
        row['speedup_of_mac_ratio'] = (row['speedup'] / row['mac_ratio']
                                       if row['speedup'] is not None and row['mac_ratio'] else None)


def _speed_target(row, device_type):
    """Target cell of an inference row: only the 1/2-width student has a target, and only on the CPU."""
    if row['width'] != '1/2':
        return ''
    if device_type != 'cpu':
        return f'(CPU target ≥{TARGET_SPEEDUP_HALF}×)'
    if row['speedup'] is None:
        return f'≥{TARGET_SPEEDUP_HALF}×: n/a'
    verdict = 'met' if row['speedup'] >= TARGET_SPEEDUP_HALF else 'MISSED'
    return f'≥{TARGET_SPEEDUP_HALF}× (MAC limit {row["mac_ratio"]:.2f}×): {verdict}'


def format_inference(result):
    """Markdown: one table per variant and input size."""
    config = result['config']
    device_type = torch.device(config['device']).type
    teacher = config['teacher']
    out = [f"### Inference ({config['device']}, {config['threads']} threads, batch {config['batch']}, "
           f"median of {config['repeats']} after {config['warmup']} warm-up, eval + inference_mode)",
           f"Teacher: RRDBNet num_feat={teacher['num_feat']} num_block={teacher['num_block']} "
           f"num_grow_ch={teacher['num_grow_ch']}; students derived by RealESRGANFamily.student_generator_opt. "
           f"MACs = FLOPs/2 from torch.utils.flop_counter. Load average at the end: {config['load_average']}."]
    headers = ['Model', 'num_feat / grow', 'Params (M)', 'GMACs', 'Latency (ms)', 'Speed-up', 'MAC ratio',
               'Speed-up / MAC ratio', 'Target']
    groups = {}
    for row in result['rows']:
        groups.setdefault((row['variant'], tuple(row['input'])), []).append(row)
    for (variant, shape), rows in groups.items():
        table = [[row['model'], f"{row['num_feat']} / {row['num_grow_ch']}", f"{row['params'] / 1e6:.3f}",
                  f"{row['macs'] / 1e9:.3f}",
                  row['error'] if row['error'] else _fmt(row['latency_ms'], '.1f'),
                  _fmt(row['speedup'], '.2f', '×'), _fmt(row['mac_ratio'], '.2f', '×'),
                  _fmt(row['speedup_of_mac_ratio'], '.0%'), _speed_target(row, device_type)] for row in rows]
        out += ['', f"#### {variant}, input {'×'.join(map(str, shape))}", '', markdown_table(headers, table)]
    return '\n'.join(out)


# ---------------------------------------------------------------------------------------------- training
def training_options(args, workdir):
    """An SDAKDModel training option dict built from the tiny test options, as parse_options would leave it.

    The teacher is x4plus-wide with ``--train-num-block`` blocks and random weights (saved to ``workdir``);
    the data set type is paired, so the model takes the fed batch as is (no degradation synthesis).
    """
    with open(TINY_YML) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    device = torch.device(args.device)
    teacher_opt = teacher_generator_opt(args.num_feat, args.train_num_block, args.num_grow_ch)
    torch.manual_seed(args.seed)
    checkpoint = os.path.join(workdir, 'teacher_g.pth')
    torch.save({'params_ema': build_network(deepcopy(teacher_opt)).state_dict()}, checkpoint)

    opt['network_g_teacher'] = teacher_opt
    opt['network_d_teacher'] = teacher_discriminator_opt(args.d_num_feat)
    opt.pop('network_g', None)
    opt.pop('network_d', None)  # derived from the teacher options and the width
    opt['sdakd'] = {'family': 'realesrgan', 'width': float(parse_width(args.train_width))}
    opt['datasets'] = {'train': {'name': 'benchmark', 'type': 'PairedImageDataset', 'phase': 'train',
                                 'scale': SCALE, 'gt_size': args.train_patch * SCALE}}
    opt.pop('val', None)
    # long stages, so that each measured iteration number lies well inside its stage
    stage_iters = 10**6
    opt['train']['stages'] = [dict(stage, iters=stage_iters) for stage in opt['train']['stages']]
    opt['train']['total_iter'] = stage_iters * len(opt['train']['stages'])
    opt['train']['distill_opt'] = dict(opt['train']['distill_opt'], layers=None)  # the family's default taps
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path=workdir,
               num_gpu=1 if device.type == 'cuda' else 0, manual_seed=args.seed, scale=SCALE)
    exp = os.path.join(workdir, 'experiments', opt['name'])
    opt['path'] = dict(opt['path'], pretrain_network_g_teacher=checkpoint, experiments_root=exp,
                       models=os.path.join(exp, 'models'), training_states=os.path.join(exp, 'training_states'),
                       log=exp, visualization=os.path.join(exp, 'visualization'))
    for key in ('models', 'training_states', 'visualization'):
        os.makedirs(opt['path'][key], exist_ok=True)
    return opt


class PlainGANStep:
    """The reference: an ordinary Real-ESRGAN GAN step on the student, plus a no-grad teacher forward.

    Same student G / D architectures, losses and optimizer settings as the SDAKD model, but separate
    networks without feature taps and adapters: G step (pixel + GAN loss, D frozen), D step (real and fake
    backward separately, as RealESRGANModel does), EMA update and the loss read-out BasicSR logs.

    Args:
        opt (dict): The SDAKD training options (after the model resolved ``network_g`` / ``network_d``).
        device (torch.device): Where to run.
        with_teacher (bool): Whether to run the teacher forward (the plain student step alone if False).
    """

    def __init__(self, opt, device, with_teacher=True):
        train_opt = opt['train']
        self.device = device
        self.net_g = build_network(deepcopy(opt['network_g'])).to(device).train()
        self.net_d = build_network(deepcopy(opt['network_d'])).to(device).train()
        self.net_g_ema = build_network(deepcopy(opt['network_g'])).to(device).eval()
        self.net_g_ema.load_state_dict(self.net_g.state_dict())
        self.teacher = None
        if with_teacher:
            self.teacher = build_network(deepcopy(opt['network_g_teacher'])).to(device).eval()
            state = torch.load(opt['path']['pretrain_network_g_teacher'], map_location=device, weights_only=True)
            self.teacher.load_state_dict(state['params_ema'])
            self.teacher.requires_grad_(False)
        self.cri_pix = build_loss(deepcopy(train_opt['pixel_opt'])).to(device)
        self.cri_gan = build_loss(deepcopy(train_opt['gan_opt'])).to(device)
        self.optimizer_g = self._adam(self.net_g.parameters(), train_opt['optim_g'])
        self.optimizer_d = self._adam(self.net_d.parameters(), train_opt['optim_d'])
        self.ema_decay = train_opt.get('ema_decay', 0)

    @staticmethod
    def _adam(params, optim_opt):
        optim_opt = dict(optim_opt)
        if optim_opt.pop('type') != 'Adam':
            raise ValueError('the plain reference step is written for Adam optimizers')
        return torch.optim.Adam(params, **optim_opt)

    def __call__(self, lq, gt):
        """One iteration on batch ``lq`` -> ``gt``; returns the losses BasicSR would log, as floats."""
        # generator
        self.net_d.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        output = self.net_g(lq)
        if self.teacher is not None:
            with torch.no_grad():
                self.teacher(lq)
        l_g_pix = self.cri_pix(output, gt)
        l_g_gan = self.cri_gan(self.net_d(output), True, is_disc=False)
        (l_g_pix + l_g_gan).backward()
        self.optimizer_g.step()
        # discriminator
        self.net_d.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        real_pred = self.net_d(gt)
        l_d_real = self.cri_gan(real_pred, True, is_disc=True)
        l_d_real.backward()
        fake_pred = self.net_d(output.detach().clone())
        l_d_fake = self.cri_gan(fake_pred, False, is_disc=True)
        l_d_fake.backward()
        self.optimizer_d.step()
        if self.ema_decay > 0:
            with torch.no_grad():
                ema = dict(self.net_g_ema.named_parameters())
                for name, param in self.net_g.named_parameters():
                    ema[name].mul_(self.ema_decay).add_(param, alpha=1 - self.ema_decay)
        return {k: v.detach().mean().item() for k, v in (('l_g_pix', l_g_pix), ('l_g_gan', l_g_gan),
                                                         ('l_d_real', l_d_real), ('l_d_fake', l_d_fake),
                                                         ('out_d_real', real_pred), ('out_d_fake', fake_pred))}


def benchmark_training(args):
    """Seconds per iteration of every SDAKD stage and of the plain reference, measured in interleaved rounds.

    Returns:
        dict: ``config`` and ``rows`` (one per step kind, with the overhead vs. the plain reference in %).
    """
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory(prefix='sdakd-benchmark-') as workdir:
        opt = training_options(args, workdir)
        torch.manual_seed(args.seed)
        # basicsr's registry prints a notice about UNetDiscriminatorSN's suffixed name to stdout; keep the
        # markdown on stdout clean
        with contextlib.redirect_stdout(sys.stderr):
            model = SDAKDModel(opt)  # resolves network_g / network_d in opt
            plain = PlainGANStep(opt, device, with_teacher=True)
            plain_no_teacher = PlainGANStep(opt, device, with_teacher=False)
        generator = torch.Generator().manual_seed(args.seed)
        patch, batch = args.train_patch, args.train_batch
        data = {'lq': torch.rand(batch, 3, patch, patch, generator=generator),
                'gt': torch.rand(batch, 3, patch * SCALE, patch * SCALE, generator=generator)}
        lq, gt = data['lq'].to(device), data['gt'].to(device)

        steps = [('plain', 'plain student GAN step + teacher no-grad forward (reference)', lambda: plain(lq, gt)),
                 ('plain_no_teacher', 'plain student GAN step alone (for context)', lambda: plain_no_teacher(lq, gt))]
        for stage in model.stages:
            counter = iter(range(stage.first_iter, stage.last_iter + 1))

            def sdakd_step(stage_counter=counter):
                model.feed_data(data)
                model.optimize_parameters(next(stage_counter))

            steps.append((f'stage{stage.index + 1}', f'SDAKD {stage.describe()}', sdakd_step))

        def run(fn):
            fn()
            synchronize(device)

        print(f'[training] {len(steps)} step kinds x ({args.train_warmup} warm-up + {args.train_repeats} timed) '
              'iterations ...', file=sys.stderr, flush=True)
        for _, _, fn in steps:
            for _ in range(args.train_warmup):
                run(fn)
        times = {key: [] for key, _, _ in steps}
        for _ in range(args.train_repeats):
            for key, _, fn in steps:
                start = time.perf_counter()
                run(fn)
                times[key].append(time.perf_counter() - start)

        plain_s = median_or_none(times['plain'])
        rows = []
        for key, description, _ in steps:
            seconds = median_or_none(times[key])
            overhead = (seconds / plain_s - 1) * 100 if seconds and plain_s else None
            rows.append(dict(step=key, description=description, s_per_iter=seconds, times_s=times[key],
                             overhead_pct=overhead))
        config = dict(device=str(device), threads=torch.get_num_threads(), batch=batch, lq_patch=patch,
                      gt_patch=patch * SCALE, warmup=args.train_warmup, repeats=args.train_repeats,
                      network_g_teacher=dict(opt['network_g_teacher']), network_g=dict(opt['network_g']),
                      network_d=dict(opt['network_d']), width=opt['sdakd']['width'],
                      distill_layers=list(model.student_taps.layer_names), ema_decay=opt['train'].get('ema_decay'),
                      params={'teacher_g': count_params(model.net_g_teacher), 'student_g': count_params(model.net_g),
                              'student_d': count_params(model.net_d),
                              'adapters': count_params(model.net_feat_adapters)},
                      load_average=load_average())
    return {'config': config, 'rows': rows}


def format_training(result):
    """Markdown: the configuration, then one row per step kind."""
    config = result['config']
    teacher, student, net_d = config['network_g_teacher'], config['network_g'], config['network_d']
    params = config['params']
    out = [f"### Training ({config['device']}, {config['threads']} threads, median s/iter of "
           f"{config['repeats']} after {config['warmup']} warm-up, step kinds interleaved)",
           f"Batch {config['batch']}, LR patch {config['lq_patch']} (GT {config['gt_patch']}); teacher RRDBNet "
           f"num_feat={teacher['num_feat']} num_block={teacher['num_block']} num_grow_ch={teacher['num_grow_ch']} "
           f"({params['teacher_g'] / 1e6:.2f} M params); width {config['width']:g}: student G num_feat="
           f"{student['num_feat']} num_grow_ch={student['num_grow_ch']} ({params['student_g'] / 1e6:.2f} M), "
           f"student D num_feat={net_d['num_feat']} ({params['student_d'] / 1e6:.2f} M); distillation taps "
           f"{config['distill_layers']} with MLP adapters ({params['adapters'] / 1e6:.2f} M); EMA decay "
           f"{config['ema_decay']}. Load average at the end: {config['load_average']}.", '']
    last_stage = [row['step'] for row in result['rows'] if row['step'].startswith('stage')][-1]
    table = []
    for row in result['rows']:
        target = ''
        if row['step'] == last_stage:
            verdict = ('n/a' if row['overhead_pct'] is None
                       else 'met' if row['overhead_pct'] <= TARGET_OVERHEAD_PCT else 'MISSED')
            target = f'≤{TARGET_OVERHEAD_PCT:g} %: {verdict}'
        overhead = '(reference)' if row['step'] == 'plain' else _fmt(row['overhead_pct'], '+.1f', ' %')
        table.append([row['step'], row['description'], _fmt(row['s_per_iter'], '.3f'), overhead, target])
    out.append(markdown_table(['Step', 'What runs', 's/iter', 'Overhead vs. plain', 'Target'], table))
    return '\n'.join(out)


# ---------------------------------------------------------------------------------------------- memory
# Runs the command as its own child, so RUSAGE_CHILDREN sees nothing but that command (and the descendants
# it waited for), whatever else the calling process started before.
_RSS_WRAPPER = '''import json, resource, subprocess, sys, time
start = time.perf_counter()
returncode = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], 'w') as handle:
    json.dump({'returncode': returncode, 'wall_s': wall, 'ru_maxrss': usage.ru_maxrss}, handle)
'''


def peak_rss_of(cmd):
    """Run ``cmd`` in a subprocess and return its peak resident set size.

    The peak is ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest RSS any single process of the command's
    tree reached (processes are not summed, so DataLoader workers count separately, not on top).

    Args:
        cmd (list[str]): The command and its arguments; it inherits stdout, stderr and the environment.

    Returns:
        dict: ``command``, ``returncode``, ``wall_s``, ``peak_rss_mib``.
    """
    with tempfile.TemporaryDirectory(prefix='sdakd-rss-') as tmp:
        report = os.path.join(tmp, 'rss.json')
        subprocess.run([sys.executable, '-c', _RSS_WRAPPER, report] + list(cmd), check=False)
        with open(report) as handle:
            measured = json.load(handle)
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    kib = measured['ru_maxrss'] / 1024 if sys.platform == 'darwin' else measured['ru_maxrss']
    return {'command': list(cmd), 'returncode': measured['returncode'], 'wall_s': measured['wall_s'],
            'peak_rss_mib': kib / 1024}


def format_peak_rss(result):
    """Markdown table of a :func:`peak_rss_of` result."""
    return markdown_table(['Command', 'Exit code', 'Wall (s)', 'Peak RSS (MiB)'],
                          [[f"`{' '.join(result['command'])}`", result['returncode'], f"{result['wall_s']:.1f}",
                            f"{result['peak_rss_mib']:.0f}"]])


# ---------------------------------------------------------------------------------------------- main
def main(argv=None):
    """Run what the command line asks for, print markdown, optionally write JSON; returns the results."""
    args = parse_args(argv)
    results = {}
    if args.peak_rss_of is not None:
        results['peak_rss'] = peak_rss_of(args.peak_rss_of)
        print('### Peak resident memory (largest single process of the command)\n')
        print(format_peak_rss(results['peak_rss']))
    else:
        device = torch.device(args.device)
        if device.type == 'cuda' and not torch.cuda.is_available():
            raise SystemExit(f'--device {args.device}: CUDA is not available here')
        if args.threads:
            torch.set_num_threads(args.threads)
        results['environment'] = environment(device)
        env = results['environment']
        print(f"## SDAKD speed benchmark\n\n{env['date']}, torch {env['torch']}, device {env['device']}"
              + (f" ({env['gpu']})" if 'gpu' in env else '')
              + f", CPU {env['cpu']} ({env['cpu_count']} logical cores), torch threads {env['torch_threads']}, "
              f"load average at start {load_average()}.\n", flush=True)
        if 'inference' in args.parts:
            results['inference'] = benchmark_inference(args)
            print(format_inference(results['inference']) + '\n', flush=True)
        if 'training' in args.parts:
            results['training'] = benchmark_training(args)
            print(format_training(results['training']) + '\n', flush=True)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=2, default=str)
    return results


if __name__ == '__main__':
    main()
