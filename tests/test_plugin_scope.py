"""Installing the plugin leaves other BasicSR experiments exactly as they were."""
import glob
import json
import os
import re
import sys

import cv2
import pytest
import torch

from helpers import REPO_ROOT, run_cli

# Runs BasicSR's own train_pipeline in a child forked from an interpreter that has imported torch and torchvision
# (their start-up seconds once for all runs) but neither basicsr nor the plugin, with the plugin active ("with") or
# with its start-up hook removed before basicsr is imported ("without"); the torchvision alias basicsr 1.4.2 needs
# is there in both. Arguments: a JSON list of runs [mode, root, option file, extra arguments, output file]; prints
# the exit status of each.
RUNNER = '''
import json, os, sys, traceback
import cv2, numpy, torch, torchvision  # noqa: F401  (no torch operation before forking)
codes = []
for mode, root, opt_path, extra, out in json.loads(sys.argv[1]):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            handle = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(handle, 1)
            os.dup2(handle, 2)
            os.chdir(root)
            if mode == 'without':
                sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != '_BasicsrFinder']
            import sdakd_basicsr_startup
            sdakd_basicsr_startup.ensure_torchvision_compat()
            import basicsr.train
            assert ('sdakd_basicsr' in sys.modules) == (mode == 'with'), sorted(m for m in sys.modules if 'sdakd' in m)
            sys.argv = ['train.py', '-opt', opt_path] + extra
            basicsr.train.train_pipeline(root)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
'''

SRMODEL_OPT = '''name: plain_srmodel
model_type: SRModel
scale: 4
num_gpu: 0
manual_seed: 0
datasets:
  train:
    name: tiny
    type: PairedImageDataset
    dataroot_gt: data/train/gt
    dataroot_lq: data/train/lq
    io_backend: {type: disk}
    gt_size: 32
    use_hflip: true
    use_rot: true
    use_shuffle: true
    num_worker_per_gpu: 0
    batch_size_per_gpu: 2
    dataset_enlarge_ratio: 1
    prefetch_mode: ~
  val:
    name: tiny_val
    type: PairedImageDataset
    dataroot_gt: data/val/gt
    dataroot_lq: data/val/lq
    io_backend: {type: disk}
network_g: {type: MSRResNet, num_in_ch: 3, num_out_ch: 3, num_feat: 8, num_block: 1, upscale: 4}
path: {pretrain_network_g: ~, strict_load_g: true, resume_state: ~}
train:
  ema_decay: 0.9
  optim_g: {type: Adam, lr: !!float 1e-3, weight_decay: 0, betas: [0.9, 0.99]}
  scheduler: {type: MultiStepLR, milestones: [100], gamma: 0.5}
  total_iter: 4
  warmup_iter: -1
  pixel_opt: {type: L1Loss, loss_weight: 1.0, reduction: mean}
val:
  val_freq: 2
  save_img: false
  metrics:
    psnr: {type: calculate_psnr, crop_border: 4, test_y_channel: false}
logger:
  print_freq: 1
  save_checkpoint_freq: 2
  use_tb_logger: false
  wandb: {project: ~, resume_id: ~}
dist_params: {backend: nccl, port: 29500}
'''


def write_tiny_paired_data(root):
    import skimage.data
    photo = skimage.data.astronaut()[..., ::-1]
    for split, corners in (('train', [(0, 0), (100, 200), (250, 50), (300, 300)]), ('val', [(200, 200)])):
        for sub in ('gt', 'lq'):
            os.makedirs(os.path.join(root, 'data', split, sub), exist_ok=True)
        for i, (y, x) in enumerate(corners):
            gt = photo[y:y + 64, x:x + 64]
            cv2.imwrite(os.path.join(root, 'data', split, 'gt', f'{i}.png'), gt)
            cv2.imwrite(os.path.join(root, 'data', split, 'lq', f'{i}.png'),
                        cv2.resize(gt, (16, 16), interpolation=cv2.INTER_AREA))


def run_plain(roots, phases):
    """The plain run in each ``{mode: root}`` of ``roots``, once per list of extra arguments in ``phases``, all one
    after another in one driver process; per phase ``{mode: (exit status, output)}``."""
    runs = []
    for i, extra in enumerate(phases):
        for mode, root in roots.items():
            opt_path = os.path.join(root, 'plain.yml')
            if not os.path.exists(opt_path):
                write_tiny_paired_data(root)
                with open(opt_path, 'w') as handle:
                    handle.write(SRMODEL_OPT)
            runs.append([mode, root, opt_path, list(extra), os.path.join(root, f'output_{i}.txt')])
    first = next(iter(roots.values()))
    proc = run_cli(['-c', RUNNER, json.dumps(runs)], cwd=first)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    codes = json.loads(proc.stdout.strip().splitlines()[-1])
    results = [{} for _ in phases]
    for i, (run, code) in enumerate(zip(runs, codes)):
        results[i // len(roots)][run[0]] = (code, open(run[4]).read())
    return results


_TIMES = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ |\[eta: [^\]]*\]|time \(data\): [\d.]+ \([\d.]+\)|'
                    r'\d{8}_\d{6}|[\d.]+ (?:seconds|s)\b|Time consumed: .*$')


def comparable_log(exp_dir):
    """The training log without timestamps, durations and the experiment's date-stamped names."""
    lines = []
    for path in sorted(glob.glob(os.path.join(exp_dir, '*.log'))):
        with open(path) as handle:
            lines += [_TIMES.sub('', line.rstrip()) for line in handle]
    return [line.replace(os.path.dirname(os.path.dirname(exp_dir)), '<root>') for line in lines]


def tensors_of(path):
    def flat(obj, prefix=''):
        if isinstance(obj, torch.Tensor):
            yield prefix, obj
        elif isinstance(obj, dict):
            for key, value in obj.items():
                yield from flat(value, f'{prefix}/{key}')
        elif isinstance(obj, (list, tuple)):
            for i, value in enumerate(obj):
                yield from flat(value, f'{prefix}/{i}')
        else:
            yield prefix, obj
    return dict(flat(torch.load(path, map_location='cpu', weights_only=False)))


@pytest.mark.slow
def test_plain_srmodel_run_is_identical_with_and_without_the_plugin(tmp_path):
    roots = {mode: str(tmp_path / mode) for mode in ('without', 'with')}
    for root in roots.values():
        os.makedirs(root)
    # the run, then --auto_resume from its saved state with more iterations, both in one driver process (the
    # files compared below then hold whatever the second run added, the same way for both modes)
    first, resumed = run_plain(roots, [['--auto_resume'], ['--auto_resume', '--force_yml', 'train:total_iter=6']])
    for mode, (code, output) in first.items():
        assert code == 0, output[-4000:]
    runs = {mode: os.path.join(root, 'experiments', 'plain_srmodel') for mode, root in roots.items()}
    logs = {mode: comparable_log(exp) for mode, exp in runs.items()}
    assert any('iter:' in line and 'l_pix' in line for line in logs['with'])  # the log really has training lines
    assert logs['with'] == logs['without']
    files = {mode: sorted(os.path.relpath(p, exp) for p in glob.glob(os.path.join(exp, '*', '*')))
             for mode, exp in runs.items()}
    assert files['with'] == files['without'] and 'models/net_g_4.pth' in files['with']
    for rel in files['with']:
        a, b = (tensors_of(os.path.join(runs[m], rel)) for m in ('without', 'with'))
        assert a.keys() == b.keys(), rel
        for key in a:
            same = torch.equal(a[key], b[key]) if isinstance(a[key], torch.Tensor) else a[key] == b[key]
            assert same, f'{rel}: {key}'

    # --auto_resume from the saved state: whatever BasicSR does (on a machine without a GPU, 1.4.2's
    # load_resume_state fails on torch.cuda.current_device()), it does the same with the plugin installed
    assert resumed['with'][0] == resumed['without'][0]
    if resumed['with'][0] != 0:
        last = {m: output.strip().splitlines()[-1] for m, (_, output) in resumed.items()}
        assert last['with'] == last['without']
    else:
        assert comparable_log(runs['with']) == comparable_log(runs['without'])


def test_only_our_models_are_rooted_at_the_working_directory(tmp_path, monkeypatch):
    import basicsr.train

    from sdakd_basicsr.train import basicsr_train_root
    monkeypatch.chdir(tmp_path)
    plain = tmp_path / 'plain.yml'
    plain.write_text(SRMODEL_OPT)
    ours = os.path.join(REPO_ROOT, 'options', 'tests', 'sdakd_realesrgan_tiny.yml')
    basicsr_root = os.path.abspath(os.path.join(basicsr.train.__file__, os.pardir, os.pardir))
    assert basicsr_train_root(['-opt', ours]) == str(tmp_path)
    assert basicsr_train_root(['-opt', str(plain)]) == basicsr_root
    assert basicsr_train_root(['-opt', str(tmp_path / 'missing.yml')]) == basicsr_root


def test_patched_functions_hand_other_models_to_basicsr():
    import basicsr.train

    from sdakd_basicsr import compat
    assert basicsr.train.load_resume_state is compat.load_resume_state
    calls = []
    original = compat._ORIGINALS['load_resume_state']
    compat._ORIGINALS['load_resume_state'] = lambda opt: calls.append(opt) or 'basicsr'
    try:
        assert compat.load_resume_state({'model_type': 'SRModel', 'path': {}}) == 'basicsr'
        assert calls and compat.runs_our_model({'model_type': 'SDAKDModel'})
        assert not compat.runs_our_model({'model_type': 'SRModel'}) and not compat.runs_our_model({})
    finally:
        compat._ORIGINALS['load_resume_state'] = original
    assert basicsr.train.EnlargedSampler is compat.EnlargedSampler  # swapped only while our loaders are built
    assert sys.modules['sdakd_basicsr.compat'] is compat
