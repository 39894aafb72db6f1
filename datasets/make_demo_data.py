"""Build the demo data set under datasets/demo (see sdakd_basicsr/data/demo_data.py for the layout).

    python datasets/make_demo_data.py --out datasets/demo
"""
import os

from sdakd_basicsr.data.demo_data import main

if __name__ == '__main__':
    main(default_out=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'demo'))
