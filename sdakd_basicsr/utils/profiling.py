"""Measuring helpers shared by the benchmark, comparison and evaluation scripts: sizes, MACs, latency, memory."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device):
    """Wait for queued GPU work, so that wall-clock times cover it."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def count_params(net):
    """Number of parameters of ``net`` (0 for None)."""
    return 0 if net is None else sum(p.numel() for p in net.parameters())


def count_macs(fn, *args, **kwargs):
    """Multiply-accumulates of one call ``fn(*args, **kwargs)``, from torch's FLOP counter (MACs = FLOPs / 2)."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        fn(*args, **kwargs)
    return counter.get_total_flops() // 2


def time_once(fn, device='cpu'):
    """Seconds one call of ``fn`` takes; CUDA events on a GPU, ``perf_counter`` on the CPU."""
    if torch.device(device).type == 'cuda':
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_latency(fn, repeats=5, warmup=1, device='cpu'):
    """Median seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    return statistics.median(time_once(fn, device) for _ in range(repeats))


def median_or_none(values):
    """Median of ``values``, or None when nothing was timed."""
    return statistics.median(values) if values else None


def load_average():
    """1, 5 and 15 minute load averages (None where the OS has none): how busy the machine was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment(device='cpu'):
    """What the numbers were measured on: date, versions, CPU model, core and thread counts, GPU."""
    device = torch.device(device)
    info = {'date': datetime.datetime.now().isoformat(timespec='seconds'), 'torch': torch.__version__,
            'python': platform.python_version(), 'device': str(device), 'cpu': platform.processor() or None,
            'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads()}
    try:
        with open('/proc/cpuinfo') as handle:
            info['cpu'] = next(line.split(':', 1)[1].strip() for line in handle if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def markdown_table(headers, rows):
    """A GitHub-flavoured markdown table; cells are str()-ed."""
    lines = ['| ' + ' | '.join(str(h) for h in headers) + ' |', '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def error_summary(error):
    """``'ErrorType: first line of its message'``: a failed measurement's cell in a table."""
    first_line = str(error).splitlines()[0] if str(error) else ''
    return f'{type(error).__name__}: {first_line}'


def use_compile_cache(path=None):
    """Point inductor's compile cache (``TORCHINDUCTOR_CACHE_DIR``) at ``path``, or at a new empty folder.

    Returns:
        tuple[str, bool]: the folder, and whether it already held compiled code (a warm cache: compiling is then
        much faster than on a first run).
    """
    cache = path or tempfile.mkdtemp(prefix='sdakd-inductor-')
    warm = bool(path) and os.path.isdir(cache) and bool(os.listdir(cache))
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = cache  # read by inductor when it compiles
    return cache, warm


def interleaved_times(fns, repeats=5, warmup=1, device='cpu'):
    """Seconds of ``repeats`` calls of each callable in ``fns`` ({name: fn}), timed in interleaved rounds.

    Every round calls each function once (a, b, c, a, b, c, ...), so that load changes on a shared machine hit
    all of them alike. A function that raises during its ``warmup`` calls is left out of the rounds.

    Returns:
        tuple[dict, dict]: {name: [seconds, ...]} and {name: 'ErrorType: first line'} of the failed ones.
    """
    errors = {}
    for name, fn in fns.items():
        try:
            for _ in range(warmup):
                fn()
            synchronize(device)
        except Exception as error:  # e.g. torch.compile without a working compiler: report it, time the rest
            errors[name] = error_summary(error)
    times = {name: [] for name in fns if name not in errors}
    for _ in range(repeats):
        for name in times:
            times[name].append(time_once(fns[name], device))
    return times, errors


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
    """Run ``cmd`` in a subprocess and return its peak resident set size and wall time.

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


def parse_key_values(pairs, flag='--set'):
    """``['num_block=6', 'narrow=0.5']`` -> {'num_block': 6, 'narrow': 0.5}; values are read as YAML."""
    result = {}
    for pair in pairs:
        if '=' not in pair:
            raise SystemExit(f'{flag} {pair!r}: expected KEY=VALUE')
        key, value = pair.split('=', 1)
        result[key] = yaml.safe_load(value)
    return result


def run_benchmark(title, args, measure, to_markdown):
    """The common ``main`` of the benchmark scripts.

    Checks ``args.device``, applies ``args.threads``, prints a header naming the machine, then the markdown of
    ``measure(args)`` (a dict, which gets an ``environment`` entry), and writes it to ``args.json`` if given.
    """
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'--device {args.device}: CUDA is not available here')
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(device)
    print(f"## {title}\n\n{env['date']}, torch {env['torch']}, device {env['device']}"
          + (f" ({env['gpu']})" if 'gpu' in env else '')
          + f", CPU {env['cpu']} ({env['cpu_count']} logical cores), torch threads {env['torch_threads']}, "
          f"load average at start {load_average()}.\n", flush=True)
    result = measure(args)
    result['environment'] = env
    print(to_markdown(result) + '\n', flush=True)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2, default=str)
    return result
