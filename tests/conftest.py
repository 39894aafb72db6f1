"""Test-wide settings: offline, small, deterministic; the slow tests run only when asked for."""
import os
import tempfile

import pytest

# nothing may download: an empty TORCH_HOME makes any weight download attempt visible as a failure
os.environ.setdefault('TORCH_HOME', tempfile.mkdtemp(prefix='sdakd-empty-torch-home-'))


def pytest_addoption(parser):
    parser.addoption('--slow', action='store_true', default=False,
                     help='also run the tests marked slow (full training runs); CI and the README command do')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--slow') or os.environ.get('SDAKD_SLOW_TESTS') == '1':
        return
    skip = pytest.mark.skip(reason='slow: run with --slow (or SDAKD_SLOW_TESTS=1)')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope='session')
def tiny_srvgg_runs(tmp_path_factory):
    """The tiny SRVGG trainings of test_srvgg_family.py (SRVGG teacher) and test_srvgg_student.py (RRDBNet
    teacher), both through ``python -m basicsr.train``'s entry in one forked driver; option file name -> run (see
    helpers.train_tiny_forked)."""
    from helpers import REPO_ROOT, train_tiny_forked, write_tiny_realesrgan_data
    runs = {}
    for name in ('sdakd_srvgg_tiny', 'sdakd_realesrgan_srvgg_tiny'):
        root = str(tmp_path_factory.mktemp(name))
        write_tiny_realesrgan_data(root)
        runs[name] = (root, os.path.join(REPO_ROOT, 'options', 'tests', f'{name}.yml'))
    return dict(zip(runs, train_tiny_forked(list(runs.values()))))
