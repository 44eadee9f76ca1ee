"""Builds the Cython extensions of src/chargebus_core/; everything else is declared in
pyproject.toml.

Each compiled module ``chargebus_core.<name>_c`` is ``src/chargebus_core/<name>_c.py``
(a link to the pure-Python twin ``<name>_py.py``) plus the C types of ``<name>_c.pxd``.
The package directory carries the package's own name so that Cython finds the .pxd
by the module's dotted path; tests/test_frame.py fails if it ever stops doing so.
"""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

CORE = Path("src/chargebus_core")
# The generated schema validators are long, flat sequences of C-API calls: gcc takes
# minutes over them at -O3 with debug info and gains nothing measurable; -O1 is enough.
# The generated scanners are plain C loops, where -O2 pays; debug info there only
# slows the build.
FLAGS = {"schemas_": ["-O1", "-g0"], "scanners_": ["-O2", "-g0"]}


def compile_flags(module: str) -> list[str]:
    return next((flags for prefix, flags in FLAGS.items() if module.startswith(prefix)), [])


COMPILED = [
    Extension(
        f"chargebus_core.{pxd.stem}",
        [str(pxd.with_suffix(".py"))],
        extra_compile_args=compile_flags(pxd.stem),
    )
    for pxd in sorted(CORE.glob("*_c.pxd"))
]


class BuildPyWithoutCompiledSources(build_py):
    """Leave the links that Cython compiles out of the wheel, so that a failed
    build cannot pass a pure-Python module off as the compiled one."""

    def find_package_modules(self, package, package_dir):
        compiled = {ext.name for ext in COMPILED}
        return [
            entry for entry in super().find_package_modules(package, package_dir)
            if f"{entry[0]}.{entry[1]}" not in compiled
        ]


setup(
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"chargebus_core": ["*.pxd", "*.pyi"], "chargebus": ["py.typed"]},
    cmdclass={"build_py": BuildPyWithoutCompiledSources},
    ext_modules=cythonize(
        COMPILED,
        build_dir="build/cython",
        compiler_directives={
            "language_level": 3,
            # Input is untrusted: keep index checks on, and a None where a typed object
            # belongs raises instead of crashing.
            "boundscheck": True,
            "wraparound": True,
            "nonecheck": True,
            # Counters and indexes become C integers.
            "infer_types": True,
        },
    ),
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
