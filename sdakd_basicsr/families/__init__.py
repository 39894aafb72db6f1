"""Teacher-family adapters: everything SDAKD needs to know about one generator/discriminator family.

The distillation model never looks at an architecture directly; it asks the family adapter named by
``sdakd.family`` in the options. Adding a family (e.g. SwinIR) means adding one module here.
"""
from sdakd_basicsr.families.base import FAMILY_REGISTRY, TeacherFamily, build_family, register_family, scale_channels
from sdakd_basicsr.families import gcfsr, realesrgan  # noqa: F401  (register)

__all__ = ['FAMILY_REGISTRY', 'TeacherFamily', 'build_family', 'register_family', 'scale_channels']
