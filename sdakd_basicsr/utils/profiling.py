"""Measuring helpers shared by the benchmark, comparison and evaluation scripts: sizes, MACs, latency."""
import datetime
import os
import platform
import statistics
import time

import torch
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
