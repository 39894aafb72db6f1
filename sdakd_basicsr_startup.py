"""Start-up hook that plugs sdakd_basicsr into an unmodified BasicSR.

BasicSR has no plugin mechanism: its registries only scan its own folders, and ``python -m basicsr.train``
imports nothing of ours. A one-line ``sdakd_basicsr-startup.pth`` file in site-packages calls :func:`install`
at interpreter start. That only puts a small finder on ``sys.meta_path`` (no torch, no basicsr import); the
finder acts when ``basicsr`` itself is imported:

* ``torchvision.transforms.functional_tensor`` (removed in torchvision 0.17, still imported by PyPI basicsr
  1.4.2) is served as an alias of ``torchvision.transforms.functional`` when the real module is missing;
* right after ``basicsr`` finished importing, ``sdakd_basicsr`` is imported, which registers our archs,
  models, losses and datasets and applies the small BasicSR fixes in :mod:`sdakd_basicsr.compat`;
* when the process runs ``python -m basicsr.train`` with an option file of one of our models, that module's
  code is replaced by a call of BasicSR's own ``train_pipeline`` rooted at the working directory, so
  ``experiments/`` and ``tb_logger/`` land there and not inside site-packages (other models keep BasicSR's
  root: :func:`sdakd_basicsr.train.basicsr_train_root`).

Every install path carries the ``.pth`` file: a regular install and a wheel through ``build_py``, an editable
install through ``editable_wheel`` (see ``setup.py``). ``python -m sdakd_basicsr_startup`` writes it by hand
into this interpreter's site-packages; ``--remove`` deletes it.
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
import types
import warnings

PTH_NAME = 'sdakd_basicsr-startup.pth'
PTH_LINE = ('import sys; exec("try:\\n import sdakd_basicsr_startup as m\\n m.install()\\n'
            'except ImportError:\\n pass")\n')
_TORCHVISION_REMOVED = 'torchvision.transforms.functional_tensor'


def running_basicsr_train_as_main():
    """True when this interpreter was started as ``python -m basicsr.train`` (also under torchrun)."""
    argv = list(getattr(sys, 'orig_argv', []))
    return any(a == '-m' and b == 'basicsr.train' for a, b in zip(argv, argv[1:]))


def make_functional_tensor_alias():
    """Module object standing in for ``torchvision.transforms.functional_tensor``."""
    import torchvision.transforms.functional as functional
    alias = types.ModuleType(_TORCHVISION_REMOVED)
    alias.__dict__.update({k: v for k, v in vars(functional).items() if not k.startswith('__')})
    alias.__doc__ = 'Alias of torchvision.transforms.functional registered by sdakd_basicsr for basicsr 1.4.2.'
    return alias


def ensure_torchvision_compat():
    """Register the ``functional_tensor`` alias now if torchvision lacks the module (idempotent)."""
    if _TORCHVISION_REMOVED in sys.modules:
        return
    try:
        importlib.import_module(_TORCHVISION_REMOVED)  # the real module, or the alias if the finder is installed
    except ImportError:
        sys.modules[_TORCHVISION_REMOVED] = make_functional_tensor_alias()


class _AliasLoader(importlib.abc.Loader):

    def create_module(self, spec):
        return make_functional_tensor_alias()

    def exec_module(self, module):
        pass


class _TrainFromWorkingDirLoader(importlib.abc.Loader):
    """Gives runpy the code of :func:`sdakd_basicsr.train.basicsr_train_main` for ``python -m basicsr.train``.

    runpy asks a loader for ``get_code``; a plain ``import basicsr.train`` uses ``exec_module``, which stays
    basicsr's own.
    """

    def __init__(self, original_loader):
        self.original_loader = original_loader

    def get_code(self, fullname):
        source = 'from sdakd_basicsr.train import basicsr_train_main\nbasicsr_train_main()\n'
        return compile(source, getattr(self.original_loader, 'path', '<basicsr.train>'), 'exec')

    def create_module(self, spec):
        return self.original_loader.create_module(spec)

    def exec_module(self, module):
        self.original_loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.original_loader, name)


class _ThenImportPlugin(importlib.abc.Loader):
    """Runs basicsr's own loader, then imports sdakd_basicsr so that our classes are registered."""

    def __init__(self, original_loader):
        self.original_loader = original_loader

    def create_module(self, spec):
        return self.original_loader.create_module(spec)

    def exec_module(self, module):
        self.original_loader.exec_module(module)
        if running_basicsr_train_as_main():
            train_module = sys.modules.get('basicsr.train')
            if train_module is not None:  # runpy takes the spec of an already imported module
                train_module.__spec__ = _redirected_train_spec(train_module.__spec__)
        try:
            importlib.import_module('sdakd_basicsr')
        except Exception as error:  # never break plain BasicSR use because of us
            warnings.warn(f'sdakd_basicsr could not be imported after basicsr ({error!r}); '
                          'its models are not registered. Reinstall sdakd_basicsr or run '
                          '`python -m sdakd_basicsr_startup --remove` to drop the start-up hook.')

    def __getattr__(self, name):
        return getattr(self.original_loader, name)


def _redirected_train_spec(spec):
    new_spec = importlib.machinery.ModuleSpec(spec.name, _TrainFromWorkingDirLoader(spec.loader), origin=spec.origin)
    new_spec.has_location = spec.has_location
    return new_spec


class _BasicsrFinder(importlib.abc.MetaPathFinder):

    def _find_elsewhere(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'basicsr':
            spec = self._find_elsewhere(fullname, path, target)
            if spec is not None and spec.loader is not None and not isinstance(spec.loader, _ThenImportPlugin):
                spec.loader = _ThenImportPlugin(spec.loader)
            return spec
        if fullname == 'basicsr.train' and running_basicsr_train_as_main():
            spec = self._find_elsewhere(fullname, path, target)
            return None if spec is None else _redirected_train_spec(spec)
        if fullname == _TORCHVISION_REMOVED:
            if self._find_elsewhere(fullname, path, target) is not None:
                return None
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader())
        return None


def install():
    """Put the finder first on ``sys.meta_path`` (idempotent). Cheap: imports nothing heavy."""
    if not any(isinstance(f, _BasicsrFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _BasicsrFinder())


def _site_packages():
    return sysconfig.get_paths()['purelib']


def write_pth(folder=None):
    """Write the start-up ``.pth`` file into ``folder`` (default: this interpreter's site-packages)."""
    path = os.path.join(folder or _site_packages(), PTH_NAME)
    with open(path, 'w') as handle:
        handle.write(PTH_LINE)
    return path


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser(description='Install or remove the sdakd_basicsr start-up hook.')
    parser.add_argument('--remove', action='store_true', help='delete the .pth file instead of writing it')
    args = parser.parse_args()
    target = os.path.join(_site_packages(), PTH_NAME)
    if args.remove:
        if os.path.exists(target):
            os.remove(target)
        print(f'removed {target}')
    else:
        print(f'wrote {write_pth()}')
