"""Inference cost of SDAKD students vs. their teacher: parameters, MACs and latency, for both families.

The teacher networks come from the project's option files (``network_g_teacher`` / ``network_d_teacher`` of
``options/sdakd_realesrgan_x4plus.yml``: RealESRGAN_x4plus's RRDBNet; ``options/sdakd_gcfsr.yml``: GCFSR 512),
the students from the family adapter at each ``--widths`` value, exactly as SDAKDModel derives them. Weights
are random: sizes and speed do not depend on them. Latencies are medians after warm-up, models of one input
timed in interleaved rounds; the load average is printed next to them.

Examples:
    python -m sdakd_basicsr.benchmarks.inference --family realesrgan --threads 2 --sizes 64 128
    python -m sdakd_basicsr.benchmarks.inference --family realesrgan --sizes 64 --channels-last --compile
    python -m sdakd_basicsr.benchmarks.inference --family gcfsr --threads 2 --discriminator
    python -m sdakd_basicsr.benchmarks.inference --family realesrgan --device cuda --batch 16 --json speed_cuda.json
"""
import argparse
import contextlib
import os
import sys
from copy import deepcopy
from fractions import Fraction

import torch

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr; registers the archs)
from basicsr.archs import build_network

from sdakd_basicsr.families import DEFAULT_FAMILY, build_family
from sdakd_basicsr.utils.options import load_options, main_option_files
from sdakd_basicsr.utils.profiling import (count_macs, count_params, interleaved_times, load_average, markdown_table,
                                           median_or_none, parse_key_values, run_benchmark, synchronize)

#: family -> option file of the repository whose teacher networks are measured
OPTION_FILES = main_option_files()


def parse_args(argv=None):
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--family', default=DEFAULT_FAMILY, choices=sorted(OPTION_FILES))
    parser.add_argument('-opt', default=None, help='option file with the teacher networks (default: the '
                        'family\'s main SDAKD option file)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='override teacher generator options, e.g. num_block=1 num_feat=16 (tests, quick runs)')
    parser.add_argument('--set-d', nargs='*', default=[], metavar='KEY=VALUE',
                        help='override teacher discriminator options')
    parser.add_argument('--widths', nargs='+', default=['1/2', '1/4', '1/8'], help='student widths')
    parser.add_argument('--sizes', nargs='+', type=int, default=None,
                        help='input sizes: the LR size for Real-ESRGAN (default 64 128); GCFSR always runs at its '
                             'out_size')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--warmup', type=int, default=2, help='untimed forward passes per model and input')
    parser.add_argument('--repeats', type=int, default=5, help='timed forward passes per model and input')
    parser.add_argument('--channels-last', action='store_true', help='also time channels_last weights and input')
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile(model, dynamic=False) (compiles during the warm-up)')
    parser.add_argument('--discriminator', action='store_true',
                        help='also measure the teacher discriminator and the student discriminators')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda / cuda:N')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads for CPU runs')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write all results to this file')
    return parser.parse_args(argv)


def parse_width(text):
    """``'1/2'`` or ``'0.5'`` -> Fraction(1, 2)."""
    return Fraction(str(text)).limit_denominator(1 << 16)


def load_family(args):
    """(family, teacher G options, teacher D options): the option file's teacher plus ``--set`` overrides."""
    opt = load_options(args.opt or OPTION_FILES[args.family])
    g_opt = dict(opt['network_g_teacher'], **parse_key_values(args.set))
    d_opt = dict(opt['network_d_teacher'], **parse_key_values(args.set_d, '--set-d'))
    family = build_family(args.family, opt.get('sdakd'))  # the file's family options (e.g. scale_grow_ch)
    family.configure(g_opt)
    return family, g_opt, d_opt


def model_specs(args, family, g_opt, d_opt):
    """``[(role, label, width, net options)]``: teacher G and students (then D's, with ``--discriminator``)."""
    specs = [('G', 'teacher', Fraction(1), g_opt)]
    widths = [parse_width(w) for w in args.widths]
    specs += [('G', f'student {w}', w, family.student_generator_opt(g_opt, float(w))) for w in widths]
    if args.discriminator:
        specs.append(('D', 'teacher D', Fraction(1), d_opt))
        specs += [('D', f'student D {w}', w, family.student_discriminator_opt(d_opt, float(w))) for w in widths]
    return specs


def input_batches(args, family, g_opt):
    """``[(shape label, generator inputs, discriminator input)]`` for each measured input size."""
    if family.fixed_input_size(g_opt):  # input and output at that size
        sizes, scale = [family.fixed_input_size(g_opt)], 1
    else:
        sizes, scale = args.sizes or [64, 128], g_opt.get('scale', 4)
    batches = []
    for size in sizes:
        inputs = family.dummy_inputs(g_opt, 'cpu', size)
        inputs = {k: v.expand(args.batch, *v.shape[1:]).contiguous() for k, v in inputs.items()}
        d_input = torch.rand(args.batch, 3, size * scale, size * scale)  # D sees output-sized images
        batches.append((f'{args.batch}×3×{size}×{size}', inputs, d_input))
    return batches


def variants(args):
    """``[(name, channels_last, compiled)]`` of the execution variants asked for."""
    result = [('eager', False, False)]
    if args.channels_last:
        result.append(('channels_last', True, False))
    if args.compile:
        result.append(('compile', False, True))
    if args.channels_last and args.compile:
        result.append(('compile+channels_last', True, True))
    return result


def _prepare(tensor, device, channels_last):
    tensor = tensor.to(device)
    if channels_last and tensor.dim() == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def benchmark(args):
    """Parameters, MACs and latency of every model, per input and variant, with ratios vs. the teacher.

    Returns:
        dict: ``config`` and ``rows`` (one dict per variant, input and model).
    """
    device = torch.device(args.device)
    family, g_opt, d_opt = load_family(args)
    torch.manual_seed(args.seed)
    specs = model_specs(args, family, g_opt, d_opt)
    with contextlib.redirect_stdout(sys.stderr):  # basicsr's registry notices stay off the markdown on stdout
        base_nets = [build_network(deepcopy(net_opt)).eval() for _, _, _, net_opt in specs]
    calls = {'G': lambda net, g_in, d_in: family.generate(net, g_in), 'D': lambda net, g_in, d_in: net(d_in)}
    rows = []
    for shape, g_inputs, d_input in input_batches(args, family, g_opt):
        macs = [count_macs(calls[role], net, g_inputs, d_input) for (role, _, _, _), net in zip(specs, base_nets)]
        for variant, channels_last, compiled in variants(args):
            print(f'[inference] {args.family} {variant}, input {shape} ...', file=sys.stderr, flush=True)
            g_in = {k: _prepare(v, device, channels_last) for k, v in g_inputs.items()}
            d_in = _prepare(d_input, device, channels_last)
            fns = {}
            for (role, label, _, _), base in zip(specs, base_nets):
                net = deepcopy(base).to(device)
                if channels_last:
                    net = net.to(memory_format=torch.channels_last)
                if compiled:
                    net = torch.compile(net, dynamic=False)
                fns[label] = lambda net=net, role=role: calls[role](net, g_in, d_in)
            with torch.inference_mode():
                times, errors = interleaved_times(fns, args.repeats, args.warmup, device)
            synchronize(device)
            for (role, label, width, net_opt), base, mac in zip(specs, base_nets, macs):
                latency = median_or_none(times.get(label))
                rows.append(dict(variant=variant, input=shape, role=role, model=label, width=str(width),
                                 options=dict(net_opt), params=count_params(base), macs=mac,
                                 latency_ms=None if latency is None else latency * 1000,
                                 latencies_ms=[t * 1000 for t in times.get(label, [])],
                                 error=errors.get(label, '').replace('|', '/') or None))
            del fns
    add_ratios(rows)
    config = dict(family=args.family, device=str(device), threads=torch.get_num_threads(), batch=args.batch,
                  warmup=args.warmup, repeats=args.repeats, variants=[v[0] for v in variants(args)],
                  option_file=args.opt or os.path.join('options', os.path.basename(OPTION_FILES[args.family])),
                  overrides=parse_key_values(args.set), widths=[str(parse_width(w)) for w in args.widths],
                  load_average=load_average())
    return {'config': config, 'rows': rows}


def add_ratios(rows):
    """Speed-up and MAC ratio vs. the teacher of the same role (G or D), variant and input."""
    teachers = {(r['variant'], r['input'], r['role']): r for r in rows if r['width'] == '1'}
    for row in rows:
        teacher = teachers[(row['variant'], row['input'], row['role'])]
        row['mac_ratio'] = teacher['macs'] / row['macs'] if row['macs'] else None
        row['speedup'] = (teacher['latency_ms'] / row['latency_ms']
                          if teacher['latency_ms'] and row['latency_ms'] else None)
        row['speedup_of_mac_ratio'] = (row['speedup'] / row['mac_ratio']
                                       if row['speedup'] is not None and row['mac_ratio'] else None)


def _fmt(value, spec, suffix=''):
    return 'n/a' if value is None else f'{value:{spec}}{suffix}'


def _channels(row):
    opt = row['options']
    if 'num_grow_ch' in opt:
        return f"{opt['num_feat']} / {opt['num_grow_ch']}"
    if 'num_style_feat' in opt:
        return f"narrow {opt.get('narrow', 1):g} / style {opt['num_style_feat']}"
    return f"{'narrow ' + format(opt['narrow'], 'g') if 'narrow' in opt else opt.get('num_feat')}"


def format_markdown(result):
    """One table per variant and input."""
    config = result['config']
    out = [f"### {config['family']} inference ({config['device']}, {config['threads']} threads, batch "
           f"{config['batch']}, median of {config['repeats']} after {config['warmup']} warm-up, eval + "
           f"inference_mode)",
           f"Teacher from {config['option_file']}" + (f" with {config['overrides']}" if config['overrides'] else '')
           + '; students derived by the family adapter. MACs = FLOPs/2 from torch.utils.flop_counter. Load '
           f"average at the end: {config['load_average']}."]
    headers = ['Model', 'Channels', 'Params (M)', 'GMACs', 'Latency (ms)', 'Speed-up', 'MAC ratio',
               'Speed-up / MAC ratio']
    groups = {}
    for row in result['rows']:
        groups.setdefault((row['variant'], row['input']), []).append(row)
    for (variant, shape), rows in groups.items():
        table = [[row['model'], _channels(row), f"{row['params'] / 1e6:.3f}", f"{row['macs'] / 1e9:.3f}",
                  row['error'] or _fmt(row['latency_ms'], '.1f'), _fmt(row['speedup'], '.2f', '×'),
                  _fmt(row['mac_ratio'], '.2f', '×'), _fmt(row['speedup_of_mac_ratio'], '.0%')] for row in rows]
        out += ['', f'#### {variant}, input {shape}', '', markdown_table(headers, table)]
    return '\n'.join(out)


def main(argv=None):
    """Measure, print markdown, optionally write JSON; returns the results."""
    return run_benchmark('SDAKD inference benchmark', parse_args(argv), benchmark, format_markdown)


if __name__ == '__main__':
    main()
