"""Teacher families: everything SDAKD needs to know about one generator/discriminator family.

The distillation model never looks at an architecture directly; it asks the family named by ``sdakd.family``.
Every ``*.py`` module of this folder is imported on start-up, so adding a family (e.g. SwinIR) means adding one
module here with a ``@FAMILY_REGISTRY.register()`` class.
"""
import importlib
import os

from sdakd_basicsr.families.base import (DEFAULT_FAMILY, FAMILY_REGISTRY, TeacherFamily, build_family,
                                         family_for_generator, family_from_options, scale_channels)

_folder = os.path.dirname(os.path.abspath(__file__))
_modules = [importlib.import_module(f'{__name__}.{name[:-3]}') for name in sorted(os.listdir(_folder))
            if name.endswith('.py') and name not in ('__init__.py', 'base.py')]

__all__ = ['DEFAULT_FAMILY', 'FAMILY_REGISTRY', 'TeacherFamily', 'build_family', 'family_for_generator',
           'family_from_options', 'scale_channels']
