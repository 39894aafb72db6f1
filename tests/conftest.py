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
