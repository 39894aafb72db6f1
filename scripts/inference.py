"""Super-resolve images with a trained SDAKD student (same as ``python -m sdakd_basicsr.inference``).

Run ``python scripts/inference.py --help`` for the options; docs/deployment.md has examples.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sdakd_basicsr.inference import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
