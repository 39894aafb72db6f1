"""Test-wide settings: offline, small, deterministic."""
import os
import tempfile

# nothing may download: an empty TORCH_HOME makes any weight download attempt visible as a failure
os.environ.setdefault('TORCH_HOME', tempfile.mkdtemp(prefix='sdakd-empty-torch-home-'))
