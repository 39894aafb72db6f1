"""Run every GPU-only path once and write one markdown table: ``python -m sdakd_basicsr.gpu_check``.

Checks (each in its own process, so that one failure or one CUDA context does not spoil the others):

* ``demo``: the ``--gpu`` demo recipe (``options/demo/sdakd_realesrgan_x4plus_demo_gpu.yml``) shortened to a few
  hundred iterations over its three stages, through BasicSR's own training loop: it/s and peak GPU memory per stage;
* ``tiling``: tiled fp16 inference of a 1024² photo against fp32 (largest 8-bit difference, time) and the speed-up
  over the CPU path (measured on a crop, per megapixel);
* ``gcfsr``: a 512 px GCFSR generator in fp16 and bf16 against fp32 (finite, largest difference);
* ``torchrun``: ``torchrun`` on one GPU with NCCL for a few iterations, cut back to a checkpoint and resumed; the
  last checkpoint must be bit-identical to the uninterrupted run's;
* ``full_scale``: seconds per iteration and peak GPU memory of each full-scale option file (``options/sdakd_*.yml``),
  20 timed iterations through ``python -m sdakd_basicsr.benchmarks.training`` (random teacher weights: the cost
  is the same).

``--dry-run`` runs the same code on the CPU at the smallest sizes (gloo instead of NCCL, a few iterations, one
full-scale file timed and every one of them parsed): it checks the plumbing, not the numbers. Teacher weights
that are absent are replaced by random ones of the same architecture (timing only); the demo data are made
from scikit-image's photos when ``datasets/demo`` is absent. Nothing is downloaded.

Examples:
    python -m sdakd_basicsr.gpu_check --out gpu_check.md      # on a machine with one GPU, about 8 minutes
    python -m sdakd_basicsr.gpu_check --dry-run --out /tmp/dry.md
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_GPU_OPT = os.path.join(REPO_ROOT, 'options', 'demo', 'sdakd_realesrgan_x4plus_demo_gpu.yml')
CHECKS = ('demo', 'tiling', 'gcfsr', 'torchrun', 'full_scale')
#: per-check time limits in seconds (GPU run; the whole check must fit in 8 minutes)
TIMEOUTS = {'demo': 150, 'tiling': 45, 'gcfsr': 20, 'torchrun': 60, 'full_scale': 200}

#: sizes of a GPU run and of a dry run
SIZES = {
    'gpu': dict(device='cuda', stage_iters=100, workers=4, batch=16, gt_size=256, teacher_blocks=None, photo=1024,
                tile=256, cpu_crop=128, gcfsr_size=512, gcfsr_narrow=0.5, resume_iters=6, full_scale_files=None,
                degrade_crop_size=None),
    'dry': dict(device='cpu', stage_iters=2, workers=0, batch=2, gt_size=64, teacher_blocks=1, photo=48, tile=32,
                cpu_crop=16,
                gcfsr_size=64, gcfsr_narrow=0.125, resume_iters=6, full_scale_files=['sdakd_realesrgan_x4plus.yml'],
                degrade_crop_size=96),
}
#: where the checks that train find the demo data made for this run (``--demo-data``; see _demo_data)
_SHARED = {'demo_data': None}


def _load(path):
    import yaml
    from basicsr.utils.options import ordered_yaml
    with open(path) as handle:
        return yaml.load(handle, Loader=ordered_yaml()[0])


def _dump(opt, path):
    import yaml
    from basicsr.utils.options import ordered_yaml
    with open(path, 'w') as handle:
        yaml.dump(opt, handle, Dumper=ordered_yaml()[1], sort_keys=False)
    return path


def _synchronize(device):
    import torch
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def _peak_gb(device):
    import torch
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith('cuda') else None


def _reset_peak(device):
    import torch
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()


def _demo_data(work):
    """The demo data set: the repository's when made, else made once per run of the checks (in their common
    working folder, or under ``work``)."""
    if os.path.isfile(os.path.join(REPO_ROOT, 'datasets', 'demo', 'train', 'meta_info.txt')):
        return os.path.join(REPO_ROOT, 'datasets', 'demo')
    out = _SHARED['demo_data'] or os.path.join(work, 'demo_data')
    if not os.path.isfile(os.path.join(out, 'train', 'meta_info.txt')):  # written last
        from sdakd_basicsr.data.demo_data import make_demo_data
        make_demo_data(out)  # what datasets/make_demo_data.py writes, in this process (no start-up of its own)
    return out


def _teacher(opt, work, size):
    """The option file's teacher weights when present, else random weights of its architecture (a note says so)."""
    import torch
    from basicsr.archs import build_network
    path = os.path.join(REPO_ROOT, opt['path']['pretrain_network_g_teacher'])
    if size['teacher_blocks'] is None and os.path.isfile(path):
        return path, 'teacher weights from the option file'
    if size['teacher_blocks'] is not None:
        opt['network_g_teacher']['num_block'] = size['teacher_blocks']
        opt['train']['distill_opt']['layers'] = None  # the family's default taps of the smaller teacher
    random_path = os.path.join(work, 'random_teacher.pth')
    torch.manual_seed(0)
    torch.save({'params_ema': build_network(dict(opt['network_g_teacher'])).state_dict()}, random_path)
    return random_path, 'random teacher weights (same architecture and cost)'


def demo_options(work, size, name='gpu_check_demo', iters_per_stage=None, save_every=None):
    """The ``--gpu`` demo options, shortened; returns ``(path, note)``."""
    opt = _load(DEMO_GPU_OPT)
    per_stage = iters_per_stage or size['stage_iters']
    opt['name'] = name
    opt['num_gpu'] = 1 if size['device'] == 'cuda' else 0
    opt['train']['stages'] = [dict(stage, iters=per_stage) for stage in opt['train']['stages']]
    total = per_stage * len(opt['train']['stages'])
    opt['train']['total_iter'] = total
    opt['train']['scheduler']['milestones'] = [total]
    data = _demo_data(work)
    train = opt['datasets']['train']
    train.update(dataroot_gt=os.path.join(data, 'train', 'gt'), meta_info=os.path.join(data, 'train', 'meta_info.txt'),
                 batch_size_per_gpu=size['batch'], gt_size=size['gt_size'], num_worker_per_gpu=size['workers'])
    opt['gt_size'] = size['gt_size']
    opt['queue_size'] = size['batch'] * max(1, opt.get('queue_size', size['batch']) // size['batch'])
    if size['degrade_crop_size']:  # a dry run degrades crops, not whole 400 px tiles (same code, less work)
        opt['degrade_crop_size'] = size['degrade_crop_size']
    opt['datasets'].pop('val', None)
    opt.pop('val', None)
    opt['logger'].update(print_freq=per_stage, save_checkpoint_freq=save_every or total, use_tb_logger=False)
    opt['path']['pretrain_network_g_teacher'], note = _teacher(opt, work, size)
    return _dump(opt, os.path.join(work, f'{name}.yml')), note


def check_demo(work, size):
    """The shortened --gpu demo through basicsr.train.train_pipeline; it/s and peak memory per stage."""
    import basicsr.train
    import torch

    import sdakd_basicsr  # noqa: F401
    from sdakd_basicsr.models.sdakd_model import SDAKDModel
    from sdakd_basicsr.models.stages import stage_at
    option_file, note = demo_options(work, size)
    device = size['device']
    records = {}
    original = SDAKDModel.optimize_parameters

    def timed(self, current_iter):
        stage = stage_at(self.stages, current_iter)
        if current_iter == stage.first_iter:
            _reset_peak(device)
        _synchronize(device)
        start = time.perf_counter()
        original(self, current_iter)
        _synchronize(device)
        entry = records.setdefault(stage.name, {'times': [], 'peak_gb': None})
        entry['times'].append(time.perf_counter() - start)
        entry['peak_gb'] = _peak_gb(device)

    SDAKDModel.optimize_parameters = timed
    argv = sys.argv
    sys.argv = ['basicsr.train', '-opt', option_file]
    try:
        torch.manual_seed(0)
        basicsr.train.train_pipeline(work)
    finally:
        sys.argv, SDAKDModel.optimize_parameters = argv, original
    rows = []
    for stage, entry in records.items():
        times = entry['times'][1:] or entry['times']  # the first step of a stage builds its graph
        rows.append({'check': f'demo --gpu recipe, stage {stage}',
                     'setting': f'{len(entry["times"])} it, batch {size["batch"]}, GT {size["gt_size"]} px; {note}',
                     'result': f'{len(times) / sum(times):.2f} it/s', 'peak_gb': entry['peak_gb'], 'ok': True})
    return rows


def _photo(side):
    import cv2
    import numpy as np
    import skimage.data
    img = np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)


def _time_upscale(runner, lr, device, repeats=2):
    runner.upscale(lr)  # warm-up (cuDNN autotuning, allocator)
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        out = runner.upscale(lr)
    _synchronize(device)
    return out, (time.perf_counter() - start) / repeats


def check_tiling(work, size):
    """Tiled fp16 vs fp32 inference of a photo; speed-up over the CPU path per megapixel."""
    import numpy as np
    import torch
    from basicsr.archs.rrdbnet_arch import RRDBNet

    from sdakd_basicsr.deploy.runner import StudentRunner, image_to_tensor, tensor_to_image
    from sdakd_basicsr.deploy.student import StudentSpec
    opt = dict(type='RRDBNet', num_in_ch=3, num_out_ch=3, num_feat=32, num_block=23, num_grow_ch=16, scale=4)
    torch.manual_seed(0)
    net = RRDBNet(**{k: v for k, v in opt.items() if k != 'type'}).eval()
    spec = StudentSpec('realesrgan', opt, scale=4)
    device, side = size['device'], size['photo']
    lr = image_to_tensor(_photo(side))
    half = device.startswith('cuda')  # the CPU path runs fp32 only (a dry run checks the plumbing)
    tile, overlap = size['tile'], size['tile'] // 8

    def runner(on, fp16):
        # the inference command's own backend choice: eager on a GPU, channels_last on the CPU
        return StudentRunner(net, spec, device=on, half=fp16, tile=tile, overlap=overlap)

    _reset_peak(device)
    low, low_s = _time_upscale(runner(device, half), lr, device)
    peak = _peak_gb(device)
    ref, ref_s = _time_upscale(runner(device, False), lr, device)
    diff = int(np.abs(tensor_to_image(low).astype(int) - tensor_to_image(ref).astype(int)).max())
    crop = lr[:, :, :size['cpu_crop'], :size['cpu_crop']]
    _, cpu_s = _time_upscale(runner('cpu', False), crop, 'cpu', repeats=1)
    cpu_per_mpix = cpu_s / (size['cpu_crop']**2 / 1e6)
    low_per_mpix = low_s / (side**2 / 1e6)
    dtype = 'fp16' if half else 'fp32 (CPU)'
    return [{'check': f'tiled {dtype} inference, x4plus w0.5 student (random weights)',
             'setting': f'{side}² input, tile {size["tile"]}, {device}',
             'result': f'largest {dtype} − fp32 difference {diff}/255; {low_s:.2f} s ({dtype}), {ref_s:.2f} s (fp32); '
                       f'{cpu_per_mpix / low_per_mpix:.1f}× the CPU path per megapixel (CPU: {size["cpu_crop"]}² crop, '
                       f'{torch.get_num_threads()} threads)',
             'peak_gb': peak, 'ok': diff <= 8}]


def check_gcfsr(work, size):
    """A GCFSR generator in fp16 and bf16 against fp32."""
    import torch

    from sdakd_basicsr.archs.gcfsr_arch import GCFSRGenerator
    device = size['device']
    torch.manual_seed(0)
    net = GCFSRGenerator(out_size=size['gcfsr_size'], narrow=size['gcfsr_narrow']).eval().to(device)
    x = (torch.rand(1, 3, size['gcfsr_size'], size['gcfsr_size']) * 2 - 1).to(device)
    in_size = torch.full((1, 1), 0.25, device=device)
    noise = [n.to(device) if n is not None else None for n in net.make_noise(1)]
    rows = []
    with torch.no_grad():
        ref, _ = net(x, in_size, noise=noise)
        for dtype in (torch.float16, torch.bfloat16):
            low_net = GCFSRGenerator(out_size=size['gcfsr_size'], narrow=size['gcfsr_narrow']).eval()
            low_net.load_state_dict(net.state_dict())
            low_net = low_net.to(device=device, dtype=dtype)
            _reset_peak(device)
            out, _ = low_net(x.to(dtype), in_size.to(dtype), noise=[n.to(dtype) if n is not None else None
                                                                    for n in noise])
            finite = bool(torch.isfinite(out).all())
            diff = float((out.float() - ref).abs().max())
            rows.append({'check': f'GCFSR forward, {str(dtype).split(".")[1]}',
                         'setting': f'{size["gcfsr_size"]} px, narrow {size["gcfsr_narrow"]}, random weights, {device}',
                         'result': f'finite: {finite}; largest difference to fp32 {diff:.4f} (output in [-1, 1])',
                         'peak_gb': _peak_gb(device), 'ok': finite and diff < 0.1})
    return rows


def _torchrun(option_file, cwd, resume=False, nproc=1):
    command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', '-m',
               'basicsr.train', '-opt', option_file, '--launcher', 'pytorch'] + (['--auto_resume'] if resume else [])
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}')


def cut_back_to(exp_dir, last_iter):
    """Leave an experiment folder as a run killed right after saving ``last_iter`` would have left it."""
    for path in glob.glob(os.path.join(exp_dir, 'models', '*.pth')) + glob.glob(
            os.path.join(exp_dir, 'training_states', '*.state')):
        label = os.path.basename(path).rsplit('_', 1)[-1].split('.')[0]
        if label == 'latest' or int(label) > last_iter:
            os.remove(path)


def check_torchrun(work, size, nproc=1):
    """torchrun for a few iterations, cut back to the middle checkpoint, resumed: bit-identical end.

    ``nproc`` processes, one per device: the GPU check runs one; tests/test_distributed.py runs this check with two
    gloo processes on the CPU and inspects the uninterrupted run (``work/run``) and the resumed one
    (``work/resumed``) it leaves.
    """
    import torch
    total = size['resume_iters']
    small = dict(size, teacher_blocks=size['teacher_blocks'] or 2, batch=2, gt_size=64, workers=0)  # exact resume
    first = os.path.join(work, 'run')
    os.makedirs(first, exist_ok=True)
    # three stages of total/3 iterations, cut in the middle of the second one
    option_file, note = demo_options(first, small, name='gpu_check_resume', iters_per_stage=total // 3,
                                     save_every=total // 2)
    opt = _load(option_file)
    backend = 'nccl' if size['device'] == 'cuda' else 'gloo'
    opt['dist_params'] = {'backend': backend, 'port': 29500}
    _dump(opt, option_file)
    start = time.perf_counter()
    _torchrun(option_file, first, nproc=nproc)
    second = os.path.join(work, 'resumed')
    shutil.copytree(first, second)
    exp = os.path.join(second, 'experiments', opt['name'])
    cut_back_to(exp, total // 2)
    _torchrun(os.path.join(second, os.path.basename(option_file)), second, resume=True, nproc=nproc)
    elapsed = time.perf_counter() - start
    uninterrupted = os.path.join(first, 'experiments', opt['name'], 'models')
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(uninterrupted, f'*_{total}.pth')))
    identical = bool(names)
    for name in names:
        a = torch.load(os.path.join(uninterrupted, name), map_location='cpu')
        b = torch.load(os.path.join(exp, 'models', name), map_location='cpu')
        for key in a:
            identical &= a[key].keys() == b[key].keys() and all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    processes = f'{nproc} process{"es" if nproc > 1 else ""}'
    return [{'check': f'torchrun, {processes}, {backend}: cut at {total // 2}, resumed to {total}',
             'setting': f'demo recipe, small teacher, batch 2; {note}',
             'result': f'{len(names)} checkpoints at iteration {total} bit-identical: {identical} '
                       f'({elapsed:.0f} s in all)',
             'peak_gb': None, 'ok': identical}]


def full_scale_files():
    return sorted(glob.glob(os.path.join(REPO_ROOT, 'options', 'sdakd_*.yml')))


def check_full_scale(work, size, save=None):
    """s/iteration and peak memory of every full-scale option file, via ``sdakd_basicsr.benchmarks.training``;
    ``save`` receives the rows so far after each file (a time limit then keeps the files already measured)."""
    from sdakd_basicsr.benchmarks import training as benchmark_training
    from sdakd_basicsr.families import family_from_options
    from sdakd_basicsr.models.stages import parse_stages
    files = full_scale_files()
    for path in files:  # every file parses and names its stages correctly, also in a dry run
        parse_stages(_load(path)['train'])
    rows = []
    chosen = size['full_scale_files']
    for path in [p for p in files if chosen is None or os.path.basename(p) in chosen]:
        opt = _load(path)
        family = family_from_options(opt)
        train = opt['datasets']['train']
        batch = train['batch_size_per_gpu'] if size['device'] == 'cuda' else 1
        argv = ['-opt', path, '--family', family.name, '--device', size['device'], '--batch', str(batch),
                '--warmup', '1', '--repeats', '5', '--perceptual', 'auto']
        if 'out_size' in opt['network_g_teacher']:  # a generator built for one image size: shrink that size
            if size['device'] != 'cuda':
                argv += ['--set', f'out_size={size["gcfsr_size"]}', '--set-d', f'out_size={size["gcfsr_size"]}']
        else:
            gt_size = opt.get('gt_size', train.get('gt_size', 256))
            argv += ['--patch', str(gt_size // opt.get('scale', 4) if size['device'] == 'cuda' else 8)]
            if size['device'] != 'cuda':
                argv += ['--set', f'num_block={size["teacher_blocks"]}']
        _reset_peak(size['device'])
        result = benchmark_training.main(argv)
        steps = {row['step']: row['s_per_iter'] for row in result['rows']}
        stages = [name for name in steps if name not in ('reference', 'teacher_forward', 'no_kd_gan')]
        rows.append({'check': f'full-scale {os.path.relpath(path, REPO_ROOT)}',
                     'setting': f'batch {batch}, input {result["config"]["input_shape"][1:]}, 20 timed iterations '
                                '(5 per step kind), random teacher',
                     'result': ', '.join(f'{name} {steps[name]:.3f} s/it' for name in stages),
                     'peak_gb': _peak_gb(size['device']), 'ok': True})
        if save:
            save(rows)
    return rows


def run_one(name, work, size, save):
    check = globals()[f'check_{name}']
    save(check(work, size, save) if name == 'full_scale' else check(work, size))


def _environment(device):
    import torch
    gpu = torch.cuda.get_device_name(0) if device == 'cuda' and torch.cuda.is_available() else 'none'
    return (f'{time.strftime("%Y-%m-%d", time.gmtime())}, torch {torch.__version__}, CUDA {torch.version.cuda}, '
            f'GPU {gpu}, {os.cpu_count()} CPU cores')


def to_markdown(rows, header):
    lines = [header, '', '| check | setting | result | peak GPU memory | ok |', '| --- | --- | --- | --- | --- |']
    for row in rows:
        peak = 'n/a' if row.get('peak_gb') is None else f'{row["peak_gb"]:.2f} GiB'
        lines.append(f'| {row["check"]} | {row.get("setting", "")} | {row["result"]} | {peak} | '
                     f'{"yes" if row["ok"] else "**NO**"} |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dry-run', action='store_true', help='the plumbing on the CPU at the smallest sizes')
    parser.add_argument('--out', default='gpu_check.md', help='the markdown table to write')
    parser.add_argument('--only', nargs='+', choices=CHECKS, default=list(CHECKS), help='run only these checks')
    parser.add_argument('--work', default=None, help='working folder (default: a temporary one, removed)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='change a size of the run, e.g. stage_iters=200 or photo=2048 (keys: '
                        f'{", ".join(SIZES["gpu"])})')
    parser.add_argument('--run-one', choices=CHECKS, help=argparse.SUPPRESS)
    parser.add_argument('--json', help=argparse.SUPPRESS)
    parser.add_argument('--demo-data', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from sdakd_basicsr.utils.profiling import parse_key_values
    size = dict(SIZES['dry' if args.dry_run else 'gpu'])
    changes = parse_key_values(args.set)
    unknown = sorted(set(changes) - set(size))
    if unknown:
        parser.error(f'--set: unknown keys {unknown}; choose among {sorted(size)}')
    size.update(changes)
    if args.run_one:  # the child process of one check
        import sdakd_basicsr  # noqa: F401
        _SHARED['demo_data'] = args.demo_data

        def save(rows):
            with open(args.json, 'w') as handle:
                json.dump(rows, handle)
        run_one(args.run_one, args.work, size, save)
        return 0
    if not args.dry_run:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('no GPU: torch finds no CUDA device here; run with --dry-run to check the plumbing')
    work = args.work or tempfile.mkdtemp(prefix='sdakd-gpu-check-')
    rows = []
    try:
        for name in args.only:
            folder = os.path.join(work, name)
            os.makedirs(folder, exist_ok=True)
            out_json = os.path.join(folder, 'rows.json')
            command = [sys.executable, '-m', 'sdakd_basicsr.gpu_check', '--run-one', name, '--work', folder,
                       '--json', out_json, '--demo-data', os.path.join(work, 'demo_data')] + (
                           ['--dry-run'] if args.dry_run else []) + ['--set'] + args.set
            env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
            start = time.perf_counter()
            try:
                proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                                      timeout=None if args.dry_run else TIMEOUTS[name])
                errors = [line for line in proc.stderr.splitlines() if 'Error' in line] or ['exit status '
                                                                                            f'{proc.returncode}']
                failure = None if proc.returncode == 0 else errors[-1].strip()[-300:]
            except subprocess.TimeoutExpired:
                failure = f'stopped after {TIMEOUTS[name]} s'
            seconds = time.perf_counter() - start
            if os.path.isfile(out_json):  # all rows, or those written before a failure
                with open(out_json) as handle:
                    rows += json.load(handle)
            if failure is not None:
                rows.append({'check': name, 'setting': '', 'result': f'FAILED: {failure}', 'peak_gb': None,
                             'ok': False})
            print(f'gpu_check: {name} {"ok" if failure is None else "FAILED"} in {seconds:.0f} s', file=sys.stderr,
                  flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    mode = 'dry run on the CPU (plumbing only, not measurements)' if args.dry_run else 'one GPU'
    text = to_markdown(rows, f'GPU check, {mode}: {_environment(size["device"])}. Command: '
                             f'bash scripts/gpu_check.sh{" --dry-run" if args.dry_run else ""}')
    with open(args.out, 'w') as handle:
        handle.write(text)
    print(text)
    return 0 if all(row['ok'] for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
