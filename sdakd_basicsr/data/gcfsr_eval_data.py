"""GCFSR validation inputs: one :class:`GCFSRValDataset` per factor (x8, x16, x32, x64 where the LR side keeps at
least :data:`GCFSR_MIN_LR_SIDE` pixels); the inputs are deterministic bicubic down-up images."""
import os

from sdakd_basicsr.data.gcfsr_dataset import GCFSRValDataset

GCFSR_FACTORS = (8, 16, 32, 64)
GCFSR_MIN_LR_SIDE = 8


def gcfsr_factors(out_size, factors=GCFSR_FACTORS):
    """The factors whose LR image keeps at least :data:`GCFSR_MIN_LR_SIDE` px at ``out_size``."""
    return [f for f in factors if out_size % f == 0 and out_size // f >= GCFSR_MIN_LR_SIDE]


def gcfsr_dataset_options(opt, factor):
    """GCFSRValDataset options for ``factor``: the file's ``val_x<factor>`` set, else its first GCFSR
    validation set at that factor with the LR made from the GT."""
    datasets = {k: v for k, v in opt.get('datasets', {}).items() if k.split('_')[0] == 'val'
                and v.get('type') == 'GCFSRValDataset'}
    if not datasets:
        raise ValueError('the option file has no GCFSRValDataset validation set (datasets.val_x8, ...)')
    for dataset_opt in datasets.values():
        if dataset_opt.get('scale') == factor:
            return dict(dataset_opt, phase='val')
    first = dict(next(iter(datasets.values())), scale=factor, phase='val')
    first.pop('dataroot_lq', None)
    first['name'] = f'{first.get("name", "val")}_made_x{factor}'
    return first


def gcfsr_samples(dataset_opt, family):
    """Samples of one GCFSR factor: inputs {'lq', 'in_size'} in [-1, 1], GT and bicubic (= the input)."""
    dataset = GCFSRValDataset(dataset_opt)
    for index in range(len(dataset)):
        item = dataset[index]
        inputs = {'lq': item['lq'][None], 'in_size': item['in_size'][None]}
        yield {'name': os.path.splitext(os.path.basename(item['gt_path']))[0], 'inputs': inputs,
               'gt': family.to_unit_range(item['gt'][None]).clamp(0, 1),
               'bicubic': family.to_unit_range(item['lq'][None]).clamp(0, 1)}
