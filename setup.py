"""Build script: an optional compiled codec core.

The codec's hot loops (``COMPILED_MODULES``) are compiled with mypyc into
extension modules, sharing one library, when mypyc and a C compiler are available; when they are not, or when
``DIAMETER_PURE_PYTHON_BUILD=1`` is set, the package installs as pure Python
and runs the same source interpreted. Everything else is in pyproject.toml.
"""
import os

from setuptools import setup

COMPILED_MODULES = [f"src/diameter/codec/{name}.py"
                    for name in ("frame", "typed", "objects", "grammar")]
"""The same list as ``diameter.codec._COMPILED_MODULES``."""


def ext_modules() -> list:
    if os.environ.get("DIAMETER_PURE_PYTHON_BUILD"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    try:
        extensions = mypycify(COMPILED_MODULES, opt_level="3",
                               group_name="diameter.codec.native")
    except (Exception, SystemExit) as e:  # mypyc cannot handle the source: stay pure Python
        print(f"diameter: not compiling the codec core ({e})")
        return []
    for ext in extensions:
        ext.optional = True   # no C compiler: install the pure-Python package
    return extensions


setup(ext_modules=ext_modules())
