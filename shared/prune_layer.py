"""Prune a freshly installed layer to what serving imports, then precompile it.

Each rule says why it is safe; `make layer-check` proves the result by importing every
handler and answering an event in an isolated python3.12. Rules that were tried and broke
loading are listed at the end, so nobody tries them again.
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from pathlib import Path

# (glob relative to python/, reason). Directories and files alike.
REMOVE = [
    ("**/tests", "test suites"),
    ("**/test", "test suites"),
    ("**/__pycache__", "bytecode of the build machine's Python; recompiled below for 3.12"),
    ("pyarrow/include", "C++ headers"),
    ("numpy/_core/include", "C headers"),
    ("**/*.pyx", "Cython sources"),
    ("**/*.pxd", "Cython declarations"),
    ("**/*.pxi", "Cython includes"),
    ("**/*.h", "C headers"),
    ("**/*.hpp", "C++ headers"),
    ("**/*.cpp", "C++ sources"),
    ("pyarrow/*flight*", "Arrow Flight RPC: serving reads local parquet"),
    ("pyarrow/_substrait*", "Substrait query plans (libarrow_substrait stays: pyarrow.lib links to it)"),
    ("pyarrow/substrait.py", "Substrait query plans"),
    ("pyarrow/libarrow_s3.so*", "Arrow's S3 client, needed only by the pruned pyarrow._s3fs"),
    ("pyarrow/_pyarrow_cpp_tests*", "pyarrow's C++ test module"),
    ("pyarrow/libarrow_python.so.*.*.*", "a copy of libarrow_python.so.N, the name everything links to"),
    ("pyarrow/*gandiva*", "Gandiva expression compiler"),
    ("pyarrow/_orc*", "ORC format"),
    ("pyarrow/_dataset_orc*", "ORC format"),
    ("pyarrow/orc.py", "ORC format"),
    ("pyarrow/_hdfs*", "HDFS filesystem (pyarrow.fs imports it optionally)"),
    ("pyarrow/_s3fs*", "S3 filesystem in Arrow: boto3 downloads, Arrow reads local files"),
    ("pyarrow/_gcsfs*", "GCS filesystem"),
    ("pyarrow/_azurefs*", "Azure filesystem"),
    ("pyarrow/_cuda*", "CUDA"),
    ("pyarrow/cuda.py", "CUDA"),
    ("pyarrow/tensorflow", "TensorFlow plugin"),
    ("pyarrow/interchange", "dataframe interchange protocol"),
    ("pyarrow/libarrow_python_parquet_encryption*", "Parquet modular encryption"),
    ("pyarrow/_parquet_encryption*", "Parquet modular encryption"),
    ("pyarrow/_dataset_parquet_encryption*", "Parquet modular encryption"),
    ("numpy/_pyinstaller", "PyInstaller hooks"),
    ("numpy/doc", "docs"),
    ("lightgbm/dask.py", "Dask integration"),
    ("lightgbm/plotting.py", "plotting"),
]
# scipy: lightgbm imports scipy.sparse (which loads its linalg and csgraph lazily, and serving
# never asks for them); once those go, no module links scipy's OpenBLAS, so scipy.libs goes too.
SCIPY_KEEP = {"sparse", "_lib", "_external"}
SCIPY_SPARSE_DROP = ("linalg", "csgraph")

# Not pruned, because loading needs them (readelf -d shows who links to what):
# - libarrow_substrait, libarrow_dataset, libarrow_acero, libarrow_compute, libparquet: pyarrow.lib
#   itself lists them as NEEDED, so `import pyarrow` fails without any one of them;
# - numpy.libs (numpy's OpenBLAS): numpy's core links to it;
# - numpy.f2py and numpy.testing: scipy's array-API shim runs `from numpy import *`, which reaches them;
# - vendored *.libs are never stripped: auditwheel renamed and patched them.


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove(root: Path, pattern: str) -> int:
    freed = 0
    for match in sorted(root.glob(pattern), key=lambda p: len(p.parts), reverse=True):
        if match.exists():
            freed += size_of(match)
            shutil.rmtree(match) if match.is_dir() else match.unlink()
    return freed


def duplicate_shared_objects(root: Path) -> int:
    """Wheels turn symlinks into copies: keep libfoo.so.N, drop libfoo.so when both exist."""
    freed = 0
    for lib in root.rglob("lib*.so"):
        if any(sibling.name.startswith(lib.name + ".") for sibling in lib.parent.iterdir()):
            freed += lib.stat().st_size
            lib.unlink()
    return freed


def strip_debug_symbols(root: Path) -> int:
    """Strip debug info from extension modules and our own libraries, not from vendored *.libs."""
    if shutil.which("strip") is None:
        return 0
    freed = 0
    for so in root.rglob("*.so*"):
        if any(part.endswith(".libs") for part in so.parts) or not so.is_file():
            continue
        before = so.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(so)], check=False, capture_output=True)
        freed += before - so.stat().st_size
    return freed


def main() -> None:
    root = Path(sys.argv[1])
    before = size_of(root)
    report: list[tuple[str, int]] = []
    for pattern, reason in REMOVE:
        report.append((f"{pattern} ({reason})", remove(root, pattern)))
    scipy = root / "scipy"
    if scipy.is_dir():
        freed = 0
        for child in scipy.iterdir():
            if child.is_dir() and child.name not in SCIPY_KEEP:
                freed += size_of(child)
                shutil.rmtree(child)
        for name in SCIPY_SPARSE_DROP:
            if (scipy / "sparse" / name).is_dir():
                freed += size_of(scipy / "sparse" / name)
                shutil.rmtree(scipy / "sparse" / name)
        report.append(("scipy subpackages other than sparse (without linalg, csgraph), _lib, _external", freed))
        report.append(("scipy.libs (OpenBLAS of scipy.linalg; numpy keeps its own)", remove(root, "scipy.libs")))
    report.append(("duplicate shared-object copies", duplicate_shared_objects(root)))
    report.append(("debug symbols of extension modules", strip_debug_symbols(root)))
    # /opt is read-only on Lambda: without .pyc every cold start compiles every module again.
    # unchecked-hash: valid whatever the zip does to file times.
    compileall.compile_dir(
        root, quiet=1, workers=0, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    after = size_of(root)
    for what, freed in report:
        if freed:
            print(f"  pruned {freed / 1e6:7.1f} MB  {what}")
    print(f"layer: {before / 1e6:.1f} MB installed -> {after / 1e6:.1f} MB after pruning (with bytecode)")


if __name__ == "__main__":
    main()
