from setuptools import setup

setup(cffi_modules=["src/wildzarr/_core_build.py:ffibuilder"])
