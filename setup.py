"""Build script: an optional compiled codec core, node core and OCS rating core.

The codec's hot loops (``COMPILED_MODULES``), the node's sans-IO per-message
state (``NODE_COMPILED_MODULES``), the OCS's rating (``OCS_COMPILED_MODULES``) and the
credit-control AVP readers (``CC_COMPILED_MODULES``) are compiled with mypyc into extension modules, one shared library per group, when mypyc and a C compiler are available; when they
are not, or when ``DIAMETER_PURE_PYTHON_BUILD=1`` is set, the package installs as
pure Python and runs the same source interpreted. Everything else is in pyproject.toml.
"""
import os
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext

EXTRA_CFLAGS = ("-fno-plt", "-fno-semantic-interposition")
"""Added to the compiled groups' C flags where the compiler takes them: calls into libpython
through its GOT rather than the PLT, and direct (inlinable) calls between a group's own
functions, which ``-fPIC`` otherwise routes through the PLT (measured in docs/performance.md)."""


class BuildExt(build_ext):
    """``build_ext`` adding :data:`EXTRA_CFLAGS` that a Unix C compiler accepts (each probed
    on an empty file with ``-Werror``; the ones it refuses are left out)."""

    def build_extensions(self) -> None:
        flags: list[str] = []
        if self.extensions and self.compiler.compiler_type == "unix":   # (gcc/clang flags: MSVC only warns)
            flags = [flag for flag in EXTRA_CFLAGS if self._accepts(flag)]
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *(ext.extra_compile_args or [])]
        super().build_extensions()

    def _accepts(self, flag: str) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write("int diameter_probe(void) { return 0; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=["-Werror", flag])
            except Exception:   # (CompileError, or a compiler that cannot run at all)
                return False
        return True

COMPILED_MODULES = [f"src/diameter/codec/{name}.py"
                    for name in ("frame", "typed_slot", "typed", "typed_memo", "typed_encode", "objects", "grammar",
                                 "assemble")]
"""The same list as ``diameter.codec._COMPILED_MODULES``."""

NODE_COMPILED_MODULES = [f"src/diameter/node/protocol/{name}.py"
                         for name in ("framing", "watchdog", "dedup", "pending", "events", "connection", "inbound", "counters", "outbound")]
"""The same list as ``diameter.node.protocol._COMPILED_MODULES``. They import the rest of the
package, which mypy follows silently: only these modules must type-check."""


OCS_COMPILED_MODULES = [f"src/diameter/ocs/{name}.py" for name in (
    "model", "tariff", "books", "rating", "mapping", "store/account_ops", "store/sqlite_cache",
    "store/pg_decide")]
"""``diameter.ocs._COMPILED_MODULES`` (the OCS's charging model and rating core) and
``diameter.ocs.store._COMPILED_MODULES`` (the SQLite account cache, the cached accounts' work, the PostgreSQL
committer's work per request)."""

CC_COMPILED_MODULES = [f"src/diameter/cc/{name}.py" for name in ("fastwire", "ccr_walk", "server_core")]
"""The same list as ``diameter.cc._COMPILED_MODULES``: the credit-control AVP readers and the
server's state machine."""


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
    try:
        extensions += mypycify(["--follow-imports=silent", *NODE_COMPILED_MODULES], opt_level="3",
                               group_name="diameter.node.protocol.native")
    except (Exception, SystemExit) as e:  # the node core stays pure Python
        print(f"diameter: not compiling the node core ({e})")
    try:
        extensions += mypycify(["--follow-imports=silent", *OCS_COMPILED_MODULES], opt_level="3",
                               group_name="diameter.ocs.native")
    except (Exception, SystemExit) as e:  # the rating core stays pure Python
        print(f"diameter: not compiling the OCS rating core ({e})")
    try:
        extensions += mypycify(["--follow-imports=silent", *CC_COMPILED_MODULES], opt_level="3",
                               group_name="diameter.cc.native")
    except (Exception, SystemExit) as e:  # the credit-control readers stay pure Python
        print(f"diameter: not compiling the credit-control readers ({e})")
    for ext in extensions:
        ext.optional = True   # no C compiler: install the pure-Python package
    return extensions


setup(ext_modules=ext_modules(), cmdclass={"build_ext": BuildExt})
