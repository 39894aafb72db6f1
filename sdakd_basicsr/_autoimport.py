"""Import every module of a sub-package whose file name ends with a suffix.

BasicSR fills its registries by importing ``*_arch.py``, ``*_model.py``, ... from its own folders only;
our sub-packages do the same for their folders so that a new file registers itself without edits elsewhere.
"""
import importlib
import os


def import_modules_with_suffix(package_name, package_file, suffix):
    """Import ``<package_name>.<stem>`` for each ``<stem><suffix>`` beside ``package_file``, sorted by name."""
    folder = os.path.dirname(os.path.abspath(package_file))
    stems = sorted(name[:-3] for name in os.listdir(folder) if name.endswith(suffix))
    return [importlib.import_module(f'{package_name}.{stem}') for stem in stems]
