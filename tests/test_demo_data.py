"""The demo data set built from the photos bundled with scikit-image."""
import hashlib
import os
import re

import cv2
import numpy as np
import pytest
import torch

import sdakd_basicsr  # noqa: F401  (torchvision fix before basicsr)
from helpers import REPO_ROOT, load_yaml

from sdakd_basicsr.utils.training_log import iteration_times, stage_timings
from sdakd_basicsr.utils.grid import CAPTION_HEIGHT, grid, side_by_side, write_image

DEMO_YML = os.path.join(REPO_ROOT, 'options', 'demo', 'sdakd_realesrgan_x4plus_demo.yml')

TILE_NAME = re.compile(r'^(?P<photo>[a-z_]+)_y(?P<top>\d{3})_x(?P<left>\d{3})\.png$')


@pytest.fixture(scope='module')
def demo():
    from sdakd_basicsr.data import demo_data
    return demo_data


@pytest.fixture(scope='module')
def demo_root(demo, tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo_a'))
    demo.main(['--out', root])
    return root


def _digest(root):
    digest = hashlib.sha256()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, 'rb') as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def _read_rgb(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)[..., ::-1]


def test_same_bytes_every_run(demo, demo_root, tmp_path):
    demo.main(['--out', str(tmp_path)])
    assert _digest(str(tmp_path)) == _digest(demo_root)


def test_layout_and_meta_info(demo, demo_root):
    train_gt = os.path.join(demo_root, 'train', 'gt')
    with open(os.path.join(demo_root, 'train', 'meta_info.txt')) as handle:
        lines = handle.read().splitlines()
    assert len(lines) >= 16 and len(set(lines)) == len(lines)
    assert sorted(lines) == sorted(os.listdir(train_gt))  # every line exists, no tile left out
    for line in lines:
        tile = cv2.imread(os.path.join(train_gt, line))
        assert tile.shape == (demo.DEFAULT_TILE_SIZE, demo.DEFAULT_TILE_SIZE, 3)

    val_names = sorted(os.listdir(os.path.join(demo_root, 'val', 'gt')))
    assert val_names == sorted(os.listdir(os.path.join(demo_root, 'val', 'lq'))) == sorted(
        f'{photo}.png' for photo in demo.VAL_PHOTOS)
    for name in val_names:
        gt = cv2.imread(os.path.join(demo_root, 'val', 'gt', name))
        lq = cv2.imread(os.path.join(demo_root, 'val', 'lq', name))
        assert gt.shape[0] % 4 == 0 and gt.shape[1] % 4 == 0
        assert lq.shape == (gt.shape[0] // 4, gt.shape[1] // 4, 3)


def test_train_and_val_come_from_different_photos(demo, demo_root):
    assert not set(demo.TRAIN_PHOTOS) & set(demo.VAL_PHOTOS)
    train_gt = os.path.join(demo_root, 'train', 'gt')
    photos = {}
    train_sources = set()
    for name in sorted(os.listdir(train_gt)):
        match = TILE_NAME.match(name)
        assert match, name
        photo, top, left = match['photo'], int(match['top']), int(match['left'])
        train_sources.add(photo)
        # names tell the truth: each tile is that crop of that photo
        image = photos.setdefault(photo, demo.load_photo(photo))
        size = demo.DEFAULT_TILE_SIZE
        np.testing.assert_array_equal(_read_rgb(os.path.join(train_gt, name)),
                                      image[top:top + size, left:left + size])
    assert train_sources == set(demo.TRAIN_PHOTOS)

    for photo in demo.VAL_PHOTOS:
        gt = _read_rgb(os.path.join(demo_root, 'val', 'gt', f'{photo}.png'))
        np.testing.assert_array_equal(gt, demo.centre_crop(demo.load_photo(photo), demo.DEFAULT_VAL_SIZE))
        lq = _read_rgb(os.path.join(demo_root, 'val', 'lq', f'{photo}.png'))
        np.testing.assert_array_equal(lq, demo.bicubic_downscale(gt))


def demo_dataset_opt(phase, demo_root):
    """The demo option file's dataset block for ``phase``, pointed at ``demo_root``."""
    opt = dict(load_yaml(DEMO_YML)['datasets'][phase], phase=phase, scale=4)
    for key in ('dataroot_gt', 'dataroot_lq', 'meta_info'):
        if key in opt:
            opt[key] = opt[key].replace('datasets/demo', demo_root)
    return opt


def test_paired_image_dataset_loads_val(demo_root):
    from basicsr.data import build_dataset
    dataset = build_dataset(demo_dataset_opt('val', demo_root))
    assert len(dataset) == 2
    item = dataset[0]
    assert item['lq'].shape == (3, 64, 64) and item['gt'].shape == (3, 256, 256)
    assert os.path.basename(item['lq_path']) == os.path.basename(item['gt_path'])


def test_realesrgan_dataset_loads_train(demo_root):
    from basicsr.data import build_dataset
    dataset = build_dataset(demo_dataset_opt('train', demo_root))
    assert len(dataset) >= 16
    item = dataset[len(dataset) - 1]
    assert item['gt'].shape == (3, 400, 400)  # RealESRGANDataset's fixed crop/pad size
    assert item['kernel1'].shape == item['kernel2'].shape == item['sinc_kernel'].shape == (21, 21)
    assert torch.isfinite(item['gt']).all() and 0 <= item['gt'].min() and item['gt'].max() <= 1


# ------------------------------------------------------------------ the demo's option variants and its report
DEMO_VARIANTS = {'long': DEMO_YML.replace('_demo.yml', '_demo_long.yml'),
                 'gpu': DEMO_YML.replace('_demo.yml', '_demo_gpu.yml')}
#: what a variant may change: its name, device, budget and the schedule that goes with the budget
BUDGET_KEYS = {'name', 'num_gpu', 'gt_size', 'degrade_crop_size', 'queue_size', 'datasets.train.gt_size',
               'datasets.train.batch_size_per_gpu', 'datasets.train.num_worker_per_gpu', 'datasets.train.prefetch_mode',
               'datasets.train.pin_memory', 'train.total_iter', 'train.stages', 'train.scheduler.milestones',
               'train.scheduler.periods',
               'train.ema_decay', 'val.val_freq', 'logger.print_freq', 'logger.save_checkpoint_freq'}


def _flat(tree, prefix=''):
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and f'{prefix}{key}' not in BUDGET_KEYS:
            flat.update(_flat(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


@pytest.mark.parametrize('variant', sorted(DEMO_VARIANTS))
def test_demo_variants_differ_only_in_budget(variant):
    base, other = _flat(load_yaml(DEMO_YML)), _flat(load_yaml(DEMO_VARIANTS[variant]))
    changed = {k for k in set(base) | set(other) if base.get(k) != other.get(k)}
    assert changed <= BUDGET_KEYS, sorted(changed - BUDGET_KEYS)
    assert other['name'] != base['name']  # its own experiment folder
    assert [s['losses'] for s in other['train.stages']] == [s['losses'] for s in base['train.stages']]
    assert sum(s['iters'] for s in other['train.stages']) == other['train.total_iter'] > base['train.total_iter']
    assert (other['num_gpu'] == 'auto') == (variant == 'gpu')


#: the demo's recipe changes that postdate the shipped one-hour student (weights/): its part 2 adds them
LATER_RECIPE_KEYS = {'clean_pair_prob', 'train.colour_distill_opt.type', 'train.colour_distill_opt.scale',
                     'train.colour_distill_opt.loss_weight'}
#: a later change still, which neither part of the one-hour student has: hue rotation instead of channel shuffling
HUE_ROTATION_KEYS = {'channel_shuffle_prob', 'hue_rotation_prob'}
#: and the latest: the demo's student adds a bicubic skip (RRDBNetBicubicSkip), the one-hour student does not
BICUBIC_SKIP_KEYS = {'sdakd.bicubic_skip'}


def test_cpu_hour_file_is_the_demo_recipe_on_the_photo_pool():
    """options/demo/sdakd_realesrgan_x4plus_cpu_hour.yml: the demo's recipe, a longer budget, the Debian photos."""
    hour = _flat(load_yaml(DEMO_YML.replace('_demo.yml', '_cpu_hour.yml')))
    base = _flat(load_yaml(DEMO_YML))
    data = {'datasets.train.name', 'datasets.train.dataroot_gt', 'datasets.train.meta_info',
            'datasets.train.dataset_enlarge_ratio'}
    changed = {k for k in set(base) | set(hour) if base.get(k) != hour.get(k)}
    allowed = BUDGET_KEYS | data | LATER_RECIPE_KEYS | HUE_ROTATION_KEYS | BICUBIC_SKIP_KEYS
    assert changed <= allowed, sorted(changed - allowed)
    assert 'sdakd.bicubic_skip' not in hour  # the shipped one-hour student is a plain RRDBNet
    assert hour['clean_pair_prob'] == 0 and 'train.colour_distill_opt.type' not in hour
    assert hour['channel_shuffle_prob'] == 0.5 and 'hue_rotation_prob' not in hour
    assert hour['datasets.train.dataroot_gt'] == 'datasets/photos/gt'  # python -m sdakd_basicsr.data.training_photos
    without_colour = [[loss for loss in s['losses'] if loss != 'colour_distill'] for s in base['train.stages']]
    assert [s['losses'] for s in hour['train.stages']] == without_colour
    assert sum(s['iters'] for s in hour['train.stages']) == hour['train.total_iter'] == 6400
    first_stage_end = hour['train.stages'][0]['iters']
    assert first_stage_end % hour['logger.save_checkpoint_freq'] == 0  # the branch point of the D study is saved


def test_cpu_hour_part_2_fine_tunes_the_shipped_student_on_clean_pairs():
    """options/demo/sdakd_realesrgan_x4plus_cpu_hour_clean.yml: part 1's data and student, the demo's later
    recipe changes (clean pairs, colour distillation), no discriminator."""
    hour = _flat(load_yaml(DEMO_YML.replace('_demo.yml', '_cpu_hour.yml')))
    part2 = _flat(load_yaml(DEMO_YML.replace('_demo.yml', '_cpu_hour_clean.yml')))
    base = _flat(load_yaml(DEMO_YML))
    assert part2['path.pretrain_network_g'] == 'weights/sdakd_x4plus_w0.25_cpu_hour.pth'
    assert os.path.isfile(os.path.join(REPO_ROOT, part2['path.pretrain_network_g']))
    assert {k: part2[k] for k in hour if k.startswith('datasets.train.')} == \
        {k: hour[k] for k in hour if k.startswith('datasets.train.')}
    teacher_and_width = [k for k in hour
                         if k.startswith(('network_g_teacher.', 'path.pretrain_network_g_teacher', 'sdakd.'))]
    assert {k: part2[k] for k in teacher_and_width} == {k: hour[k] for k in teacher_and_width}
    assert part2['clean_pair_prob'] > 0
    assert {k: part2[k] for k in LATER_RECIPE_KEYS - {'clean_pair_prob'}} == \
        {k: base[k] for k in LATER_RECIPE_KEYS - {'clean_pair_prob'}}
    assert all('gan' not in s['losses'] and not s.get('train_d') for s in part2['train.stages'])
    assert sum(s['iters'] for s in part2['train.stages']) == part2['train.total_iter']


LOG_EXCERPT = """\
2026-12-01 21:45:13,272 INFO: SDAKD stage 1/2: 'supervised' (iters 1-20; losses: pixel×1; D trained: none)
2026-12-01 21:45:13,638 INFO: SDAKD stage 1/2 starts at iter 1: 'supervised' (iters 1-20; losses: pixel×1)
2026-12-01 21:45:20,060 INFO: [sdakd][epoch:  0, iter:  10, lr:(5.000e-04,)] [eta: 0:01:36, time (data): 0.679 (0.020)]
2026-12-01 21:45:25,060 INFO: [sdakd][epoch:  0, iter:  20, lr:(5.000e-04,)] [eta: 0:01:36, time (data): 0.500 (0.020)]
2026-12-01 21:45:26,638 INFO: SDAKD stage 2/2 starts at iter 21: 'distill' (iters 21-40; losses: pixel×1, distill×1)
2026-12-01 21:45:46,060 INFO: [sdakd][epoch:  0, iter:  30, lr:(5.000e-04,)] [eta: 0:01:36, time (data): 0.900 (0.020)]
2026-12-01 21:46:26,638 INFO: End of training. Time consumed: 0:01:13
"""


def test_report_reads_stage_iterations_and_times_from_the_log():
    timings = stage_timings(LOG_EXCERPT)
    assert timings['total'] == '0:01:13'
    (first, second) = timings['stages']
    assert (first['name'], first['first'], first['last'], first['iters']) == ('supervised', 1, 20, 20)
    assert first['seconds'] == pytest.approx(13.0) and second['seconds'] == pytest.approx(60.0)
    assert not first['resumed']
    resumed_log = LOG_EXCERPT.replace('2/2 starts at iter 21', '2/2 continues (resumed) at iter 31')
    resumed = stage_timings(resumed_log.split('2026-12-01 21:45:46')[0])
    assert resumed['stages'][1]['resumed'] and resumed['stages'][1]['iters'] == 10
    assert resumed['stages'][1]['seconds'] is None and resumed['total'] is None  # not finished


def test_side_by_side_keeps_every_frame_whole():
    frames = [(name, np.full((40, 30, 3), value, np.uint8)) for name, value in (('a', 10), ('b', 200))]
    panel = side_by_side(frames, gap=4)
    assert panel.shape == (40 + CAPTION_HEIGHT, 30 + 4 + 30, 3)
    np.testing.assert_array_equal(panel[CAPTION_HEIGHT:, :30], frames[0][1])  # no caption over the image
    np.testing.assert_array_equal(panel[CAPTION_HEIGHT:, 34:], frames[1][1])
    with pytest.raises(ValueError, match='differ in size'):
        side_by_side([('a', frames[0][1]), ('c', np.zeros((20, 30, 3), np.uint8))])


def test_iteration_times_of_consecutive_logged_iterations():
    log = ('2026-12-01 22:00:00,000 INFO: [srvgg..][epoch:  0, iter:       9, lr:(5.000e-04,)] [eta: 0:00:01, '
           'time (data): 0.1 (0.0)] l_g_pix: 1.0\n'
           '2026-12-01 22:00:01,250 INFO: [srvgg..][epoch:  0, iter:      10, lr:(5.000e-04,)] x\n'
           '2026-12-01 22:00:01,300 INFO: Saving models and training states.\n'
           '2026-12-01 22:00:03,750 INFO: [srvgg..][epoch:  1, iter:   1,002, lr:(5.000e-04,)] x\n'
           '2026-12-01 22:00:04,000 INFO: [srvgg..][epoch:  1, iter:   1,003, lr:(5.000e-04,)] x\n')
    assert iteration_times(log) == {10: 1.25, 1003: 0.25}  # 10 -> 1,002 is not consecutive: left out


def test_grid_captions_the_first_row_and_is_written_into_a_new_folder(tmp_path):
    a, b = np.full((16, 16, 3), 10, np.uint8), np.full((16, 16, 3), 200, np.uint8)
    image = grid(['nearest', 'teacher'], [[a, b], [b, a]], caption_height=18)
    assert image.shape == (18 + 2 * 16, 2 * 16, 3)  # one title strip, one row per image, one column per method
    assert image[18 + 8, 8, 0] == 10 and image[18 + 8, 24, 0] == 200 and image[18 + 24, 8, 0] == 200
    path = write_image(str(tmp_path / 'new' / 'grid.png'), image)
    assert cv2.imread(path).shape == image.shape
