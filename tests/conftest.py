"""Test-wide settings: offline, small, deterministic."""
import os
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# nothing may download: an empty TORCH_HOME makes any weight download attempt visible as a failure
os.environ.setdefault('TORCH_HOME', tempfile.mkdtemp(prefix='sdakd-empty-torch-home-'))


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT
