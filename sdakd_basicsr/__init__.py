"""SDAKD (Student Discriminator Assisted Knowledge Distillation) as a BasicSR plugin.

Importing this package registers its archs, models, losses and datasets with BasicSR's registries and
applies the small fixes of :mod:`sdakd_basicsr.compat` (CPU resume, frozen teachers on resume).
"""
from sdakd_basicsr_startup import ensure_torchvision_compat

ensure_torchvision_compat()  # before basicsr: PyPI basicsr 1.4.2 imports a module torchvision 0.17 removed

import basicsr  # noqa: E402,F401  (fills BasicSR's own registries first)

from sdakd_basicsr import archs, data, losses, models  # noqa: E402,F401
from sdakd_basicsr.compat import patch_basicsr  # noqa: E402
from sdakd_basicsr.version import __version__  # noqa: E402,F401

patch_basicsr()
