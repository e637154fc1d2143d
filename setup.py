"""Build hook for the optional C speedups; everything else is in pyproject.toml.

``optional=True``: without a C compiler the package installs and runs on its pure-Python
code paths (shoal.document.accel.fast is then None).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("shoal.document._fast", ["shoal/document/_fast.c"], optional=True)])
