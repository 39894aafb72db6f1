"""Registers every `*_model.py` module of this folder with BasicSR's registries on import."""
from sdakd_basicsr._autoimport import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __file__, '_model.py')
