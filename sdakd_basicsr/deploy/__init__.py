"""Deployment of trained students: export (BasicSR .pth + card, ONNX), backends, tiling, faces in photos.

See ``docs/deployment.md``; the command is ``python -m sdakd_basicsr.inference``.
"""
