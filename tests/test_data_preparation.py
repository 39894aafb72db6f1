"""From a folder of photos to an option file: multiscale copies, sub-images, meta_info, LMDB, the option file."""
import os

import cv2
import numpy as np
import pytest
import yaml

import sdakd_basicsr  # noqa: F401
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.utils.options import ordered_yaml
from helpers import REPO_ROOT, load_yaml
from sdakd_basicsr import new_experiment, prepare_data
from sdakd_basicsr.models.stages import parse_stages
from sdakd_basicsr.utils.option_checks import check_dataset_paths

FULL_SCALE = os.path.join(REPO_ROOT, 'options', 'sdakd_realesrgan_x4plus.yml')
PHOTOS = {'astronaut': (512, 512), 'coffee': (400, 600), 'chelsea': (300, 451)}  # (h, w)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    import skimage.data
    folder = tmp_path_factory.mktemp('photos')
    (folder / 'holiday').mkdir()
    for name in PHOTOS:
        sub = 'holiday/' if name == 'coffee' else ''  # any depth
        cv2.imwrite(str(folder / f'{sub}{name}.jpg'), np.ascontiguousarray(getattr(skimage.data, name)()[..., ::-1]))
    return str(folder)


@pytest.fixture(scope='module')
def prepared(photos, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('prepared') / 'my_photos')
    assert prepare_data.main(['--hr', photos, '--out', out, '--lmdb']) == 0
    return out


def size(path):
    return cv2.imread(path).shape[:2]


def test_multiscale_copies(prepared):
    folder = os.path.join(prepared, 'multiscale')
    assert size(os.path.join(folder, 'astronautT0.png')) == (512, 512)
    assert size(os.path.join(folder, 'astronautT1.png')) == (384, 384)
    assert size(os.path.join(folder, 'astronautT3.png')) == (171, 171)
    assert size(os.path.join(folder, 'astronautT4.png')) == (400, 400)  # shorter side at 400
    assert size(os.path.join(folder, 'holiday_coffeeT2.png')) == (200, 300)
    assert not os.path.exists(os.path.join(folder, 'chelseaT4.png'))  # already under 400 px
    assert len(os.listdir(folder)) == 5 + 4 + 4  # 4 scales each, + the 400 px copy of astronaut (512)


def test_sub_images_cover_each_image_and_the_meta_info_lists_them(prepared):
    sub = os.path.join(prepared, 'sub')
    # astronaut 512: crops at 0 and 112 in both directions; coffee 400x600: 0, 200 across
    assert sorted(n for n in os.listdir(sub) if n.startswith('astronautT0_')) == [
        f'astronautT0_s{i:03d}.png' for i in range(1, 5)]
    assert len([n for n in os.listdir(sub) if n.startswith('holiday_coffeeT0_')]) == 2
    assert all(max(size(os.path.join(sub, n))) <= 400 for n in os.listdir(sub))
    with open(os.path.join(prepared, 'meta_info.txt')) as handle:
        listed = handle.read().split()
    assert listed == sorted(os.listdir(sub))


@pytest.mark.parametrize('backend', ['disk', 'lmdb'])
def test_the_dataset_of_the_option_files_reads_the_output(prepared, backend):
    train = dict(load_yaml(FULL_SCALE)['datasets']['train'])
    if backend == 'lmdb':
        train.update(dataroot_gt=os.path.join(prepared, 'sub.lmdb'), io_backend={'type': 'lmdb'})
    else:
        train.update(dataroot_gt=os.path.join(prepared, 'sub'), meta_info=os.path.join(prepared, 'meta_info.txt'))
    dataset = RealESRGANDataset(train)
    assert len(dataset) == len(os.listdir(os.path.join(prepared, 'sub')))
    item = dataset[0]
    assert item['gt'].shape == (3, 400, 400)
    first = sorted(os.listdir(os.path.join(prepared, 'sub')))[0]
    expected = cv2.imread(os.path.join(prepared, 'sub', first))[:, :, ::-1] / 255.
    if expected.shape[:2] == (400, 400) and not train['use_hflip']:
        assert np.allclose(item['gt'].permute(1, 2, 0).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize('lmdb', [False, True])
def test_option_file_for_own_photos(prepared, tmp_path, monkeypatch, capsys, lmdb):
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / 'options' / 'my_photos.yml')
    args = ['--teacher', 'weights/teacher.pth', '--data', prepared, '--width', '0.25', '--gpus', '2',
            '--iters', '1000', '--out', out, '--val', 'none', '--base', FULL_SCALE] + (['--lmdb'] if lmdb else [])
    assert new_experiment.main(args) == 0
    assert f'torchrun --nproc_per_node=2 -m basicsr.train -opt {out} --launcher pytorch' in capsys.readouterr().out
    with open(out) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    base = load_yaml(FULL_SCALE)
    assert opt['name'] == 'sdakd_my_photos_w0.25' and opt['sdakd']['width'] == 0.25 and opt['num_gpu'] == 2
    assert opt['path']['pretrain_network_g_teacher'] == 'weights/teacher.pth'
    assert [s['iters'] for s in opt['train']['stages']] == [250, 250, 500]  # the base file's 1:1:2
    assert opt['train']['total_iter'] == 1000 and opt['train']['scheduler']['milestones'] == [1000]
    assert opt['logger']['save_checkpoint_freq'] == 1000 and 'val' not in opt['datasets'] and 'val' not in opt
    parse_stages(opt['train'])
    check_dataset_paths(opt)  # every data path it names exists
    # everything else is the base file's: the degradation, the losses, the networks
    for key in ('resize_prob', 'jpeg_range2', 'network_g_teacher', 'network_d_teacher', 'queue_size'):
        assert opt[key] == base[key]
    assert opt['train']['perceptual_opt'] == base['train']['perceptual_opt']
    assert opt['datasets']['train']['kernel_list'] == base['datasets']['train']['kernel_list']


@pytest.fixture(scope='module')
def trained_on_prepared(prepared, tmp_path_factory):
    """Per backend (disk, LMDB): an option file written for the prepared photos and its BasicSR training.

    Both trainings run through ``python -m basicsr.train``'s own entry in children forked from one process
    (tests/forked_training.py: one start-up for both); the command in a subprocess of its own is tested in
    test_train_cli.py.
    """
    from forked_training import train_forked
    from helpers import TINY_REALESRGAN_YML, save_random_teacher
    runs = {}
    for lmdb in (False, True):
        root = str(tmp_path_factory.mktemp('lmdb' if lmdb else 'disk'))
        teacher = os.path.join(root, 'teacher.pth')
        save_random_teacher(teacher, load_yaml(TINY_REALESRGAN_YML)['network_g_teacher'])
        out = os.path.join(root, 'my_photos.yml')
        args = ['--base', TINY_REALESRGAN_YML, '--teacher', teacher, '--data', prepared, '--gpus', '0', '--iters',
                '3', '--val', 'none', '--out', out] + (['--lmdb'] if lmdb else [])
        assert new_experiment.main(args) == 0
        runs[lmdb] = (root, out)
    results = train_forked([(root, ['-opt', out]) for root, out in runs.values()])
    return {lmdb: (root, out, result) for (lmdb, (root, out)), result in zip(runs.items(), results)}


@pytest.mark.slow
@pytest.mark.parametrize('lmdb', [False, True])
def test_prepared_photos_and_written_options_train_and_export(trained_on_prepared, tmp_path, lmdb):
    """The walk of docs/own_photos.md on the tiny recipe: prepared data, written option file, BasicSR training
    (three stages), export. Only the base file differs from the docs (the tiny test recipe trains on a CPU).

    The export script runs in this process (its main); as a command of its own it is tested in
    test_export.py::test_export_script_writes_pth_onnx_and_checks_them.
    """
    import runpy
    root, out, run = trained_on_prepared[lmdb]
    assert run['returncode'] == 0, run['output'][-6000:]
    model = os.path.join(root, 'experiments', 'sdakd_my_photos_w0.5', 'models', 'net_g_latest.pth')
    assert os.path.isfile(model)
    export_student = runpy.run_path(os.path.join(REPO_ROOT, 'scripts', 'export_student.py'))  # not as __main__
    export_student['main'](['--model', model, '--opt', out, '--out', str(tmp_path / 'exported' / 'student')])
    assert (tmp_path / 'exported' / 'student.pth').is_file()
