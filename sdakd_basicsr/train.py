"""Training entry point: ``python -m sdakd_basicsr.train -opt options/<x>.yml [--auto_resume]``.

Equivalent to ``python -m basicsr.train`` once sdakd_basicsr is installed: BasicSR's own
``train_pipeline`` with ``experiments/`` and ``tb_logger/`` under the current working directory.
"""
import os

import sdakd_basicsr  # noqa: F401  (registers our classes and applies sdakd_basicsr.compat)


def main(root_path=None):
    """Run BasicSR's training loop rooted at ``root_path`` (default: the working directory)."""
    import basicsr.train
    basicsr.train.train_pipeline(os.path.abspath(root_path or os.getcwd()))


if __name__ == '__main__':
    main()
