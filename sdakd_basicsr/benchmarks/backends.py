"""Benchmark the CPU backends of the inference command for the x4plus teacher and its width-reduced students.

Every model runs through the inference command's own runtime (:class:`sdakd_basicsr.deploy.runner.StudentRunner`:
deployed generator, backend, tiling) on inputs of 64², 256² and a 720p output frame (LR 320×180, tiled as the
command tiles it), batch 1. Reported per model and backend: the one-time cost (``torch.compile``'s first call,
the ONNX export and session creation), median latencies, speed-ups over the teacher in plain eager fp32 and over
the teacher in the same backend, and the MAC ratio. Random weights: speed does not depend on the values.

Examples:
    flock /work/cpu.lock python -m sdakd_basicsr.benchmarks.backends --threads 2 --json bench.json
    python -m sdakd_basicsr.benchmarks.backends --models 1/2 --backends eager compile --cases 256
    python -m sdakd_basicsr.benchmarks.backends --markdown bench1.json bench2.json   # merge runs into one table
"""
import argparse
import json
import time
from fractions import Fraction

import torch

from sdakd_basicsr.deploy.backends import BACKENDS
from sdakd_basicsr.deploy.runner import DEFAULT_OVERLAP, DEFAULT_TILE, StudentRunner
from sdakd_basicsr.deploy.student import StudentSpec
from sdakd_basicsr.families import build_family, family_for_generator
from sdakd_basicsr.utils.profiling import (count_macs, count_params, environment, load_average, markdown_table,
                                           median_latency, time_once, use_compile_cache)

#: LR input (height, width) per case name; '720p' is a 1280×720 output frame of the ×4 models
CASES = {'64': (64, 64), '256': (256, 256), '720p': (180, 320)}
TEACHER_OPT = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)
GOAL_SPEEDUP = 4.35
GOAL_MAC_FRACTION = 0.95


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', default=['teacher', '1/2', '1/4', '1/8'],
                        help='teacher and/or student widths (fractions of the teacher)')
    parser.add_argument('--backends', nargs='+', default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    parser.add_argument('--threads', type=int, default=2, help='torch and onnxruntime threads (default 2)')
    parser.add_argument('--repeats', type=int, default=3, help='timed runs per case (720p: 1)')
    parser.add_argument('--tile', type=int, default=DEFAULT_TILE)
    parser.add_argument('--overlap', type=int, default=DEFAULT_OVERLAP)
    parser.add_argument('--skip', nargs='*', default=[], metavar='MODEL:BACKEND:CASE',
                        help='combinations not to run, e.g. teacher:compile:720p (* matches anything)')
    parser.add_argument('--compile-cache', default=None, metavar='DIR',
                        help='inductor cache folder (TORCHINDUCTOR_CACHE_DIR); default: a new empty one, so that '
                             'compile times are cold-start times. Reuse a folder to measure a warm start.')
    parser.add_argument('--json', default=None, help='write the measurements to this file')
    parser.add_argument('--markdown', nargs='+', default=None, metavar='JSON',
                        help='do not measure: merge these JSON results and print the tables')
    return parser.parse_args(argv)


def model_spec(name):
    family = build_family(family_for_generator(TEACHER_OPT['type']))
    if name == 'teacher':
        opt = dict(TEACHER_OPT)
    else:
        opt = family.student_generator_opt(TEACHER_OPT, float(Fraction(name)))
    return StudentSpec(family.name, opt, scale=4, source={'benchmark': name})


def skipped(patterns, model, backend, case):
    for pattern in patterns:
        parts = pattern.split(':')
        if len(parts) == 3 and all(p in ('*', v) for p, v in zip(parts, (model, backend, case))):
            return True
    return False


def measure(args):
    torch.set_num_threads(args.threads)
    _, warm = use_compile_cache(args.compile_cache)
    results = {'environment': environment(), 'load_average_start': load_average(), 'threads': args.threads,
               'batch': 1, 'tile': args.tile, 'overlap': args.overlap, 'compile_cache': 'warm' if warm else 'cold',
               'rows': []}
    for model in args.models:
        spec = model_spec(model)
        torch.manual_seed(0)
        net = spec.build().eval()
        macs = {c: count_macs(net, torch.rand(1, 3, *CASES[c])) for c in args.cases if c != '720p'}
        for backend in args.backends:
            cases = [c for c in args.cases if not skipped(args.skip, model, backend, c)]
            if not cases:
                continue
            row = {'model': model, 'backend': backend, 'params': count_params(net), 'macs': macs, 'latency': {},
                   'first_call': {}, 'compile_cache': results['compile_cache']}
            start = time.perf_counter()
            runner = StudentRunner(net, spec, backend=backend, tile=args.tile, overlap=args.overlap,
                                   threads=args.threads)
            row['setup_s'] = time.perf_counter() - start  # onnxruntime: export + session
            for case in cases:
                image = torch.rand(1, 3, *CASES[case])
                row['first_call'][case] = time_once(lambda: runner.upscale(image))  # compile: compiles here
                repeats = 1 if case == '720p' else args.repeats
                row['latency'][case] = median_latency(lambda: runner.upscale(image), repeats=repeats, warmup=0)
                print(f'{model:8s} {backend:14s} {case:5s} first {row["first_call"][case]:8.2f} s  '
                      f'median {row["latency"][case]:8.3f} s  load {load_average()}', flush=True)
            row['load_average'] = load_average()
            results['rows'].append(row)
            runner = None  # free the compiled graph / session before the next backend
    results['load_average_end'] = load_average()
    return results


def merge(paths):
    rows, envs = [], []
    for path in paths:
        with open(path) as handle:
            data = json.load(handle)
        rows += data['rows']
        envs.append({k: data.get(k) for k in ('environment', 'threads', 'batch', 'tile', 'overlap',
                                              'load_average_start', 'load_average_end')})
    return rows, envs


def tables(rows):
    """Markdown tables: latencies per model and backend, and speed-ups at 256²."""
    for row in rows:  # a warm-cache compile run is a row of its own
        row['label'] = row['backend'] + (', warm cache' if row.get('compile_cache') == 'warm' and
                                         row['backend'] == 'compile' else '')
    lookup = {(r['model'], r['label']): r for r in rows}
    teacher_eager = lookup.get(('teacher', 'eager'), {}).get('latency', {})
    lines = []
    headers = ['model', 'params', 'backend', 'setup + first-call extra (s)', '64² (ms)', '256² (s)', '720p tiled (s)',
               '× teacher eager @256²', '× teacher same backend @256²', 'MAC ratio', 'speed-up / MAC ratio']
    body = []
    for row in rows:
        lat = row['latency']
        teacher_same = lookup.get(('teacher', row['backend']), {}).get('latency', {})  # cold-cache teacher
        teacher_macs = lookup.get(('teacher', 'eager'), {}).get('macs', {}).get('256')
        mac_ratio = teacher_macs / row['macs']['256'] if teacher_macs and '256' in row['macs'] else None
        vs_eager = teacher_eager['256'] / lat['256'] if '256' in lat and '256' in teacher_eager else None
        vs_same = teacher_same['256'] / lat['256'] if '256' in lat and '256' in teacher_same else None
        one_time = row.get('setup_s', 0) + max(0.0, max((row['first_call'][c] - lat[c] for c in lat), default=0))
        fmt = lambda v, spec: 'n/a' if v is None else format(v, spec)  # noqa: E731
        body.append([row['model'], f'{row["params"] / 1e6:.2f} M', row['label'], fmt(one_time, '.1f'),
                     fmt(lat.get('64') and lat['64'] * 1000, '.0f'), fmt(lat.get('256'), '.2f'),
                     fmt(lat.get('720p'), '.1f'), fmt(vs_eager, '.2f'), fmt(vs_same, '.2f'), fmt(mac_ratio, '.2f'),
                     fmt(vs_same / mac_ratio if vs_same and mac_ratio else None, '.0%')])
    lines.append(markdown_table(headers, body))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.markdown:
        rows, envs = merge(args.markdown)
        print(tables(rows))
        print()
        for env in envs:
            print(json.dumps(env))
        return
    results = measure(args)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=1)
    print(tables(results['rows']))
    print(json.dumps({k: results[k] for k in ('environment', 'threads', 'load_average_start',
                                              'load_average_end')}))


if __name__ == '__main__':
    main()
