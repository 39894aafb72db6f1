"""Training entry point: ``python -m sdakd_basicsr.train -opt options/<x>.yml [--auto_resume]``.

Equivalent to ``python -m basicsr.train`` once sdakd_basicsr is installed: BasicSR's own
``train_pipeline`` with ``experiments/`` and ``tb_logger/`` under the current working directory.
"""
import os
import sys

import sdakd_basicsr  # noqa: F401  (registers our classes and applies sdakd_basicsr.compat)


def main(root_path=None):
    """Run BasicSR's training loop rooted at ``root_path`` (default: the working directory)."""
    import basicsr.train
    basicsr.train.train_pipeline(os.path.abspath(root_path or os.getcwd()))


def basicsr_train_root(argv=None):
    """Root of ``python -m basicsr.train``: the working directory for our models, BasicSR's own otherwise.

    BasicSR roots that command at the folder holding the installed package (site-packages for a pip install),
    which sends ``experiments/`` there and makes ``--auto_resume`` miss them; runs of our models are rooted at
    the working directory instead. Other models keep BasicSR's choice, exactly as without this plugin.
    """
    import basicsr.train

    from sdakd_basicsr.compat import runs_our_model
    argv = sys.argv[1:] if argv is None else argv
    basicsr_root = os.path.abspath(os.path.join(basicsr.train.__file__, os.pardir, os.pardir))
    try:
        import yaml

        from sdakd_basicsr.utils.options import load_options
        opt = load_options(argv[argv.index('-opt') + 1])
    except (ValueError, IndexError, OSError, yaml.YAMLError):
        return basicsr_root  # BasicSR reports the bad -opt itself
    return os.getcwd() if isinstance(opt, dict) and runs_our_model(opt) else basicsr_root


def basicsr_train_main():
    """What ``python -m basicsr.train`` runs once the start-up hook is installed."""
    main(basicsr_train_root())


if __name__ == '__main__':
    main()
