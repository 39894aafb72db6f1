"""Distributed training through ``torchrun -m basicsr.train --launcher pytorch`` on CPUs (gloo).

* Two processes with one sample each train to the same weights as one process with both samples in one batch
  (paired data without random crops or flips, so that the batch is the only difference; BatchNorm-free nets).
* GCFSR SDAKD, whose lazy R1 penalty differentiates through the wrapped D twice, trains under torchrun (its
  generators draw noise maps from each rank's own random stream, so there is no single-process twin).
* Two processes on the Real-ESRGAN data path (random degradations per rank, a per-rank training-pair queue),
  cut back to a checkpoint and resumed, end bit-identical to the uninterrupted run: every rank gets its own
  random state and queue back. This is the GPU check's torchrun check (``sdakd_basicsr.gpu_check``) with two
  processes, so that the suite runs a torchrun cut-and-resume once.
* In-process: which networks are wrapped, that only rank 0 writes, and the choice of init_dist.
"""
import glob
import json
import os
import sys

import cv2
import pytest
import torch
import torch.distributed as dist
import yaml
from basicsr.models import build_model
from torch.nn.parallel import DistributedDataParallel

import sdakd_basicsr  # noqa: F401
from helpers import (TINY_GCFSR_SDAKD_YML, TINY_REALESRGAN_YML, load_yaml, logged_losses, run_cli,
                     save_random_teacher, training_opt, write_tiny_face_data)
from sdakd_basicsr import distributed, gpu_check
from sdakd_basicsr.data import demo_data

TOTAL_ITER = 4
STAGES = [{'name': 'supervised', 'iters': 1, 'losses': ['pixel']},
          {'name': 'distill', 'iters': 1, 'losses': ['pixel', 'distill'], 'train_d': 'student'},
          {'name': 'adversarial', 'iters': 2, 'losses': ['pixel', 'distill', 'gan'], 'train_d': 'student'}]


def write_paired_data(root):
    """Four 32² GT crops of a real photo and their 8² LQ versions, plus one validation pair."""
    import skimage.data
    photo = skimage.data.astronaut()[..., ::-1]
    for split, corners in (('train', [(0, 0), (100, 200), (250, 50), (300, 300)]), ('val', [(200, 200)])):
        for sub in ('gt', 'lq'):
            os.makedirs(os.path.join(root, 'datasets', 'paired', split, sub), exist_ok=True)
        for i, (y, x) in enumerate(corners):
            gt = cv2.resize(photo[y:y + 96, x:x + 96], (32, 32), interpolation=cv2.INTER_AREA)
            cv2.imwrite(os.path.join(root, 'datasets', 'paired', split, 'gt', f'{i}.png'), gt)
            cv2.imwrite(os.path.join(root, 'datasets', 'paired', split, 'lq', f'{i}.png'),
                        cv2.resize(gt, (8, 8), interpolation=cv2.INTER_AREA))


def base_options(root, name, option_file=TINY_REALESRGAN_YML):
    """Tiny SDAKD options with all three stages in ``TOTAL_ITER`` iterations and a saved random teacher."""
    opt = load_yaml(option_file)
    save_random_teacher(os.path.join(root, opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    opt['name'] = name
    opt['train'].update(total_iter=TOTAL_ITER, stages=STAGES)
    for key in ('optim_g', 'optim_d'):  # large steps: a wrong sync shows
        opt['train'][key]['lr'] = max(opt['train'][key]['lr'], 1e-3)
    opt['logger'].update(print_freq=1, save_checkpoint_freq=TOTAL_ITER)
    opt['val']['val_freq'] = TOTAL_ITER
    opt.pop('dist_params', None)  # CPU default: gloo
    return opt


def paired_options(root, name, batch_size):
    """Options whose training batches hold whole images, without random crops or flips."""
    write_paired_data(root)
    opt = base_options(root, name)
    opt['datasets']['train'] = {
        'name': 'paired_train', 'type': 'PairedImageDataset', 'dataroot_gt': 'datasets/paired/train/gt',
        'dataroot_lq': 'datasets/paired/train/lq', 'io_backend': {'type': 'disk'},
        'gt_size': 32, 'use_hflip': False, 'use_rot': False,  # whole images: no random crop, no flip
        'use_shuffle': True, 'num_worker_per_gpu': 0, 'batch_size_per_gpu': batch_size,
        'dataset_enlarge_ratio': 1, 'prefetch_mode': None}
    opt['datasets']['val'] = dict(opt['datasets']['val'], dataroot_gt='datasets/paired/val/gt',
                                  dataroot_lq='datasets/paired/val/lq')
    return opt


def write_options(root, opt):
    path = os.path.join(root, f'{opt["name"]}.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(json.loads(json.dumps(opt)), handle, sort_keys=False)  # OrderedDicts -> plain YAML
    return path


def run(args, cwd, nproc=None):
    """``python -m basicsr.train ...`` (under torchrun when ``nproc``) with this checkout's package."""
    prefix = ['-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}'] if nproc else []
    proc = run_cli(prefix + ['-m', 'basicsr.train'] + args + (['--launcher', 'pytorch'] if nproc else []), cwd)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def checkpoints(exp_dir, it):
    """{network label (``net_g``, ...): checkpoint} of every network saved at iteration ``it``."""
    paths = sorted(glob.glob(os.path.join(exp_dir, 'models', f'*_{it}.pth')))
    return {os.path.basename(p).rsplit('_', 1)[0]: torch.load(p) for p in paths}


def log_of(exp_dir):
    return '\n'.join(open(p).read() for p in sorted(glob.glob(os.path.join(exp_dir, 'train_*.log'))))


def max_difference(a, b):
    """Largest absolute difference between two {file: checkpoint} dicts with the same layout."""
    assert sorted(a) == sorted(b)
    diff = 0.0
    for name, reference in b.items():
        assert set(a[name]) == set(reference)
        for key, state in reference.items():
            assert set(a[name][key]) == set(state), f'{name}[{key}]: keys differ (a module. prefix?)'
            diff = max(diff, max((a[name][key][k].double() - v.double()).abs().max().item() for k, v in state.items()))
    return diff


def two_process_and_single_runs(root):
    for name, nproc, batch_size in (('ddp2', 2, 1), ('single', None, 2)):
        opt = paired_options(root, name, batch_size)
        opt['logger']['save_checkpoint_freq'] = 1
        run(['-opt', write_options(root, opt)], root, nproc=nproc)
    return [os.path.join(root, 'experiments', n) for n in ('ddp2', 'single')]


@pytest.mark.slow
def test_two_processes_train_like_one_process_on_the_global_batch(tmp_path):
    ddp_dir, single_dir = two_process_and_single_runs(str(tmp_path))
    diffs = [max_difference(checkpoints(ddp_dir, it), checkpoints(single_dir, it)) for it in range(1, TOTAL_ITER + 1)]
    final = checkpoints(single_dir, TOTAL_ITER)
    assert {'net_g', 'net_d'} <= set(final) and len(final) == 3  # G (+EMA), D_S, feature adapters
    # how far training moved the weights from iter 1 to the end: what a wrong sync would get wrong
    moved = max_difference(checkpoints(single_dir, 1), final)
    print(f'max |DDP - single| per iteration: {[f"{d:.3g}" for d in diffs]}; weights moved by up to {moved:.3g}')
    assert max(diffs) < 1e-5 and moved > 1e-3  # (the same run on batch 1, one shard: 2e-3 at iter 1)

    log = log_of(ddp_dir)
    losses = logged_losses(log)
    assert sorted(losses) == list(range(1, TOTAL_ITER + 1))
    assert 'l_g_gan' in losses[3] and 'l_d_real' in losses[2] and 'l_g_distill' not in losses[1]
    assert '# psnr:' in log  # validation (rank 0 alone) did not wait for the other rank
    assert 'Resuming' not in log and len(glob.glob(os.path.join(str(tmp_path), 'tb_logger', 'ddp2', '*'))) == 1
    state = torch.load(os.path.join(ddp_dir, 'training_states', f'{TOTAL_ITER}.state'), weights_only=False)
    assert len(state['exact_resume']['ranks']) == 2


@pytest.mark.slow
def test_gcfsr_trains_under_torchrun_with_lazy_r1(tmp_path):
    root = str(tmp_path)
    write_tiny_face_data(root)
    opt = base_options(root, 'ddp_gcfsr', TINY_GCFSR_SDAKD_YML)
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    run(['-opt', write_options(root, opt)], root, nproc=2)
    exp_dir = os.path.join(root, 'experiments', 'ddp_gcfsr')
    losses = logged_losses(log_of(exp_dir))
    assert sorted(losses) == list(range(1, TOTAL_ITER + 1))
    assert 'l_d_r1' in losses[2] and 'l_d_r1' in losses[4] and 'l_g_gan' in losses[4]  # R1 every 2nd D step
    state = torch.load(os.path.join(exp_dir, 'training_states', f'{TOTAL_ITER}.state'), weights_only=False)
    assert len(state['exact_resume']['ranks']) == 2


@pytest.mark.slow
def test_resume_gives_every_rank_its_own_random_state_and_queue(tmp_path, monkeypatch):
    """The GPU check's torchrun check (run, cut back to its middle checkpoint, resumed, last checkpoints compared)
    with two gloo processes; the GPU check's dry run in test_gpu_check.py leaves its torchrun check to this test."""
    demo = str(tmp_path / 'demo_data')
    demo_data.main(['--out', demo])  # made here: no process start-up of its own
    monkeypatch.setitem(gpu_check._SHARED, 'demo_data', demo)
    work = str(tmp_path / 'work')
    os.makedirs(work)
    (row, ) = gpu_check.check_torchrun(work, dict(gpu_check.SIZES['dry']), nproc=2)
    assert row['check'] == 'torchrun, 2 processes, gloo: cut at 3, resumed to 6', row
    assert row['ok'] and '3 checkpoints at iteration 6 bit-identical: True' in row['result'], row
    exp_dir, resumed_dir = (os.path.join(work, sub, 'experiments', 'gpu_check_resume') for sub in ('run', 'resumed'))
    # every network's last checkpoint, on both sides (the check compared them tensor by tensor)
    assert sorted(checkpoints(resumed_dir, 6)) == sorted(checkpoints(exp_dir, 6)) == ['net_d', 'net_feat_adapters',
                                                                                      'net_g']

    state = torch.load(os.path.join(exp_dir, 'training_states', '3.state'), weights_only=False)
    rank_states = state['exact_resume']['ranks']
    assert len(rank_states) == 2
    assert not torch.equal(rank_states[0]['rng']['torch'], rank_states[1]['rng']['torch'])
    queues = [rank_state['family']['synthesizer']['queue_lr'] for rank_state in rank_states]
    assert not torch.equal(*queues)

    uninterrupted = logged_losses(log_of(exp_dir))
    assert sorted(uninterrupted) == [2, 4, 6]  # logged every 2nd iteration
    (resumed_log, ) = set(glob.glob(os.path.join(resumed_dir, 'train_*.log'))) - {
        os.path.join(resumed_dir, os.path.basename(p)) for p in glob.glob(os.path.join(exp_dir, 'train_*.log'))}
    resumed = logged_losses(open(resumed_log).read())
    assert sorted(resumed) == [4, 6]  # continued after the cut, not from the start
    for it in resumed:
        assert resumed[it] == uninterrupted[it], f'iter {it} differs after resume'


@pytest.fixture
def one_process_group(tmp_path):
    """A real gloo process group of one process (what torchrun sets up, without the second process)."""
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "pg"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_student_d_and_adapters_are_wrapped_teacher_and_ema_are_not(tmp_path, one_process_group):
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    opt = training_opt(opt, str(tmp_path), train_type='PairedImageDataset')
    opt['dist'] = True
    model = build_model(opt)
    wrapped = [name for name, value in vars(model).items() if isinstance(value, DistributedDataParallel)]
    # the adapters are a network of their own (trained with G); the distillation criterion has no weights
    assert sorted(wrapped) == ['net_d', 'net_feat_adapters', 'net_g']
    assert not any(p.requires_grad for p in model.net_g_teacher.parameters())
    # a distillation step through the wrapped networks trains G, the adapters and D_S, never the teacher
    before = {name: [p.detach().clone() for p in getattr(model, name).parameters()]
              for name in wrapped + ['net_g_teacher']}
    for it in (1, 3):  # stage 1 (iters 1-2): pixel; stage 2 (3-4): + distill, D_S trains
        model.feed_data({'lq': torch.rand(1, 3, 16, 16), 'gt': torch.rand(1, 3, 64, 64)})
        model.optimize_parameters(it)
    assert 'l_g_distill' in model.log_dict and 'l_d_real' in model.log_dict
    moved = {name: any(not torch.equal(a, b) for a, b in zip(params, getattr(model, name).parameters()))
             for name, params in before.items()}
    assert moved == {'net_g': True, 'net_d': True, 'net_feat_adapters': True, 'net_g_teacher': False}


def test_gcfsr_teacher_model_wraps_its_g_and_d_on_cpus(tmp_path, one_process_group):
    from test_gcfsr_teacher_model import model_opt
    model = build_model(dict(model_opt(tmp_path), dist=True))
    assert isinstance(model.net_g, DistributedDataParallel) and isinstance(model.net_d, DistributedDataParallel)
    assert not isinstance(model.net_g_ema, DistributedDataParallel)


@pytest.mark.parametrize('rank', [0, 1])
def test_only_rank_zero_writes_checkpoints(tmp_path, monkeypatch, rank):
    opt = load_yaml(TINY_REALESRGAN_YML)
    save_random_teacher(str(tmp_path / opt['path']['pretrain_network_g_teacher']), opt['network_g_teacher'])
    opt = training_opt(opt, str(tmp_path), train_type='PairedImageDataset')
    model = build_model(opt)
    import basicsr.utils.dist_util as dist_util
    monkeypatch.setattr(dist_util, 'get_dist_info', lambda: (rank, 2))  # what master_only asks
    model.save(0, 1)
    written = os.listdir(opt['path']['models']) + os.listdir(opt['path']['training_states'])
    assert (sorted(written) == []) if rank else (len(written) == 4 and '1.state' in written)


def test_init_dist_leaves_other_models_to_basicsr(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(distributed, '_basicsr_init_dist', lambda *a, **k: calls.append(a))
    opt_file = tmp_path / 'other.yml'
    opt_file.write_text('model_type: SRModel\nnum_gpu: 0\n')
    monkeypatch.setattr(sys, 'argv', ['basicsr/train.py', '-opt', str(opt_file), '--launcher', 'pytorch'])
    distributed.init_dist('pytorch')
    assert calls == [('pytorch', 'nccl')]


def test_init_dist_refuses_nccl_for_a_cpu_run(tmp_path, monkeypatch):
    opt_file = tmp_path / 'ours.yml'
    opt_file.write_text('model_type: SDAKDModel\nnum_gpu: 0\ndist_params: {backend: nccl}\n')
    monkeypatch.setattr(sys, 'argv', ['basicsr/train.py', '-opt', str(opt_file), '--launcher', 'pytorch'])
    with pytest.raises(ValueError, match='dist_params.backend'):
        distributed.init_dist('pytorch')


def test_basicsr_parse_options_joins_a_gloo_group_for_a_cpu_run(tmp_path, monkeypatch):
    """BasicSR's own parse_options, as `torchrun -m basicsr.train --launcher pytorch` runs it (one process)."""
    import socket
    import basicsr.utils.options as basicsr_options
    opt_file = tmp_path / 'ours.yml'
    opt_file.write_text('name: pg\nmodel_type: SDAKDModel\nnum_gpu: 0\nmanual_seed: 0\ndatasets: {}\npath: {}\n')
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(distributed.mp, 'get_start_method', lambda allow_none=False: 'fork')  # keep this process's
    monkeypatch.setattr(sys, 'argv', ['basicsr/train.py', '-opt', str(opt_file), '--launcher', 'pytorch'])
    try:
        opt, _ = basicsr_options.parse_options(str(tmp_path), is_train=True)
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert (opt['dist'], opt['rank'], opt['world_size']) == (True, 0, 1)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize('model_type, rank, writes', [('SDAKDModel', 1, False), ('SDAKDModel', 0, True),
                                                      ('SRModel', 1, True)])
def test_tensorboard_writer_only_on_rank_zero_for_our_models(tmp_path, model_type, rank, writes):
    import basicsr.train as basicsr_train
    opt = {'model_type': model_type, 'rank': rank, 'name': 'tb', 'root_path': str(tmp_path),
           'logger': {'use_tb_logger': True}}
    writer = basicsr_train.init_tb_loggers(opt)
    writer.add_scalar('l_g_pix', 1.0, 1)
    writer.close()
    assert os.path.isdir(tmp_path / 'tb_logger' / 'tb') == writes
