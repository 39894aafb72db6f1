"""What a newcomer gets wrong fails before training with a message that names the option or file and the fix.

Each case: the check itself (fast, in-process) and, where the error used to surface from deep inside basicsr or
torch, the literal ``python -m basicsr.train`` command (slow: a subprocess; the file's commands start together).
"""
import os
import shutil
import sys

import pytest
import torch

from basicsr.models import build_model

import sdakd_basicsr  # noqa: F401
from helpers import (TINY_REALESRGAN_YML, load_yaml, prepare_tiny_realesrgan_run, run_clis, save_random_teacher,
                     training_opt)
from sdakd_basicsr.utils.checkpoint import load_checked
from sdakd_basicsr.utils.option_checks import (OptionError, check_devices, check_one_gpu_per_process,
                                               check_training_options)

TEACHER_OPTION = 'path.pretrain_network_g_teacher'


@pytest.fixture
def tiny_root(tmp_path):
    prepare_tiny_realesrgan_run(str(tmp_path))
    return tmp_path


@pytest.fixture
def tiny_opt(tiny_root, monkeypatch):
    monkeypatch.chdir(tiny_root)  # the option file's data paths are relative to the working directory
    return training_opt(load_yaml(TINY_REALESRGAN_YML), str(tiny_root))


# ------------------------------------------------------------------ (a) data folders
@pytest.mark.parametrize('phase, key', [('train', 'dataroot_gt'), ('train', 'meta_info'), ('val', 'dataroot_gt'),
                                        ('val', 'dataroot_lq')])
def test_missing_data_path_names_the_option(tiny_opt, phase, key):
    check_training_options(tiny_opt)  # the prepared data passes
    tiny_opt['datasets'][phase][key] = 'datasets/not_there/x'
    with pytest.raises(OptionError) as info:
        check_training_options(tiny_opt)
    message = str(info.value)
    assert f'datasets.{phase}.{key}' in message and "'datasets/not_there/x'" in message
    assert os.getcwd() in message  # says where a relative path was looked for


def test_lmdb_folder_is_checked_too(tiny_opt):
    tiny_opt['datasets']['train'].update(io_backend={'type': 'lmdb'}, dataroot_gt='datasets/none.lmdb')
    tiny_opt['datasets']['train'].pop('meta_info')
    with pytest.raises(OptionError, match=r'datasets\.train\.dataroot_gt: the LMDB folder'):
        check_training_options(tiny_opt)


#: the literal commands of this file: case -> extra arguments of ``python -m basicsr.train -opt <tiny options>``
LITERAL_CASES = {'missing_training_folder': []}
if not torch.cuda.is_available():  # num_gpu=1 fails only on a machine without a GPU
    LITERAL_CASES['num_gpu_1'] = ['--force_yml', 'num_gpu=1']


@pytest.fixture(scope='module')
def literal_commands(tmp_path_factory):
    """Case -> completed ``python -m basicsr.train`` process, each in its own tiny working directory; the commands
    are started together (each a process of its own; their start-ups overlap)."""
    roots = {}
    for case in LITERAL_CASES:
        roots[case] = tmp_path_factory.mktemp(case)
        prepare_tiny_realesrgan_run(str(roots[case]))
    shutil.rmtree(roots['missing_training_folder'] / 'datasets' / 'tiny' / 'train')
    procs = run_clis([(['-m', 'basicsr.train', '-opt', TINY_REALESRGAN_YML] + extra, str(roots[case]))
                      for case, extra in LITERAL_CASES.items()])
    return dict(zip(LITERAL_CASES, procs))


@pytest.mark.slow
def test_literal_command_stops_on_a_missing_training_folder(literal_commands):
    proc = literal_commands['missing_training_folder']
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert 'OptionError: datasets.train.dataroot_gt' in output and 'img_bytes' not in output
    assert 'Loaded teacher' not in output  # stopped before any network was built


# ------------------------------------------------------------------ (b, c) teacher files
def _load_teacher_from(opt, path):
    from basicsr.archs import build_network
    net = build_network(dict(opt['network_g_teacher']))
    return load_checked(net, str(path), 'params_ema', True, TEACHER_OPTION, 'network_g_teacher')


@pytest.mark.parametrize('content, words', [
    (b'<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n', ['is an HTML page', "'<!DOCTYPE html>"]),
    (b'version https://git-lfs.github.com/spec/v1\noid sha256:0\n', ['is not a PyTorch checkpoint', 'git-lfs']),
])
def test_teacher_file_that_is_not_a_checkpoint(tiny_opt, tmp_path, content, words):
    path = tmp_path / 'teacher.pth'
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        _load_teacher_from(tiny_opt, path)
    message = str(info.value)
    for word in words + [TEACHER_OPTION, str(path), 'torch.save']:
        assert word in message
    assert 'WeightsUnpickler' not in message


def test_truncated_teacher_file(tiny_opt, tmp_path):
    path = tmp_path / 'teacher.pth'
    save_random_teacher(str(path), tiny_opt['network_g_teacher'])
    _load_teacher_from(tiny_opt, path)  # the whole file loads
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # an interrupted download or copy
    with pytest.raises(ValueError) as info:
        _load_teacher_from(tiny_opt, path)
    message = str(info.value)
    assert 'truncated' in message and TEACHER_OPTION in message and str(path) in message
    assert 'central directory' not in message


def test_model_reports_a_broken_teacher_before_training(tiny_opt):
    path = tiny_opt['path']['pretrain_network_g_teacher']
    with open(path, 'r+b') as handle:
        handle.truncate(os.path.getsize(path) - 100)
    with pytest.raises(ValueError, match=r'path\.pretrain_network_g_teacher: .* truncated'):
        build_model(tiny_opt)


# ------------------------------------------------------------------ (d) GPUs
def test_num_gpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # the machine boundary: no driver
    check_devices({'num_gpu': 0})
    check_devices({'num_gpu': 'auto'})
    with pytest.raises(OptionError) as info:
        check_devices({'num_gpu': 1})
    assert 'num_gpu=1' in str(info.value) and 'num_gpu: 0' in str(info.value)


def test_more_gpus_than_there_are(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    check_devices({'num_gpu': 1})
    with pytest.raises(OptionError, match=r'num_gpu=4, but torch finds only 1 GPU'):
        check_devices({'num_gpu': 4})


@pytest.mark.parametrize('num_gpu', [4, 'auto'])
def test_several_gpus_in_one_process_are_refused_with_the_torchrun_command(monkeypatch, num_gpu):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # the machine boundary: four GPUs
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 4)
    argv = ['-opt', 'options/sdakd_realesrgan_x4plus.yml']
    with pytest.raises(OptionError) as info:
        check_one_gpu_per_process({'num_gpu': num_gpu, 'dist': False}, argv)
    assert ('torchrun --nproc_per_node=4 -m basicsr.train -opt options/sdakd_realesrgan_x4plus.yml '
            '--launcher pytorch') in str(info.value)
    assert 'num_gpu: 1' in str(info.value)
    check_one_gpu_per_process({'num_gpu': 4, 'dist': True}, argv)  # torchrun: one GPU per process
    check_one_gpu_per_process({'num_gpu': 1, 'dist': False}, argv)


def test_several_gpus_are_refused_before_the_model_is_built(tiny_root, monkeypatch):
    """BasicSR's own train_pipeline with num_gpu: auto on a (mocked) 2-GPU host stops before build_model."""
    import basicsr.train
    monkeypatch.chdir(tiny_root)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # the machine boundary: two GPUs
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    built = []
    monkeypatch.setattr(basicsr.train, 'build_model', lambda opt: built.append(opt))
    monkeypatch.setattr(sys, 'argv', ['train', '-opt', TINY_REALESRGAN_YML, '--force_yml', 'num_gpu=auto'])
    with pytest.raises(OptionError, match=r'torchrun --nproc_per_node=2 -m basicsr.train -opt .*tiny.* --launcher'):
        basicsr.train.train_pipeline(str(tiny_root))
    assert not built


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without a GPU')
def test_literal_command_with_num_gpu_1_on_a_cpu_machine(literal_commands):
    proc = literal_commands['num_gpu_1']
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert 'OptionError: num_gpu=1, but torch finds no GPU' in output and 'NVIDIA driver' not in output
