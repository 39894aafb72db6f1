"""Same as ``python -m sdakd_basicsr.make_options``: (re)write the generated option files, or ``--check`` them.

The methods (SDAKD, its baselines and ablations) are the table :data:`sdakd_basicsr.methods.METHODS`.
"""
import sys

from sdakd_basicsr.make_options import main
from sdakd_basicsr.methods import ABLATIONS, BASELINES, METHODS  # noqa: F401  (read by scripts/make_tables.py)

if __name__ == '__main__':
    sys.exit(main())
