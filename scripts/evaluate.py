"""Evaluate an experiment folder (or a checkpoint + option file): see sdakd_basicsr/metrics/evaluate.py.

    python scripts/evaluate.py experiments/<name>
    python scripts/evaluate.py -opt options/x.yml --checkpoint path/to/net_g.pth
"""
from sdakd_basicsr.metrics.evaluate import main

if __name__ == '__main__':
    main()
