"""Regenerate, or check, the two hashed lock files.

shared/requirements-layer.lock
    The pins of shared/requirements-layer.txt (the file people edit), each with the sha256 of the
    exact wheel that shared/Makefile installs for each Lambda architecture: pip's own choice under
    the Makefile's --platform flags (read from it), cp312, --only-binary, --no-deps. With
    `pip install --require-hashes` nothing else installs: no other file, no other version.
requirements-dev.lock
    What pyproject.toml's dependencies with the train and dev extras, plus its [build-system]
    requires (so `pip install --no-build-isolation -e .` fetches nothing unhashed), resolve to on
    linux x86_64, Python 3.12: `uv pip compile --generate-hashes`, hashes of every file of each
    pinned release. Pins already in the lock are kept unless --upgrade.

    python infra/scripts/lock.py              # regenerate both (the dev lock keeps its pins)
    python infra/scripts/lock.py --upgrade    # ... the dev lock takes the newest versions allowed
    python infra/scripts/lock.py --check      # exit 1 when a lock's pins differ from their source

--check compares the layer lock with requirements-layer.txt, offline. For the dev lock it resolves
pyproject.toml again (network, uv) with the lock's pins as constraints: the package sets must be
equal, and every hash in the lock one that the index lists for that release.
Needs pip (any Python) and, for the dev lock, uv (in the same venv as this Python or on PATH).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_PINS = ROOT / "shared" / "requirements-layer.txt"
LAYER_LOCK = ROOT / "shared" / "requirements-layer.lock"
LAYER_MAKEFILE = ROOT / "shared" / "Makefile"
PYPROJECT = ROOT / "pyproject.toml"
DEV_LOCK = ROOT / "requirements-dev.lock"
DEV_EXTRAS = ("train", "dev")
DEV_PLATFORM = "x86_64-manylinux_2_28"  # uv's name for linux x86_64 (glibc 2.28+)
PYTHON_VERSION = "3.12"  # the Lambda runtime, and requires-python
INDEX_URL = "https://pypi.org/simple"
REGENERATE = "python infra/scripts/lock.py  (make lock)"

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")

Pins = dict[str, str]  # canonical name -> version


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> Pins:
    """name==version lines of a requirements file (comments, hashes and blank lines skipped)."""
    pins: Pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def read_hashes(path: Path) -> dict[str, list[str]]:
    """The sha256 hashes under each pin of a hashed requirements file."""
    hashes: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            current = canonical(match.group(1))
            hashes[current] = []
        if current:
            hashes[current] += HASH.findall(line)
    return hashes


def layer_platforms() -> dict[str, list[str]]:
    """The --platform flags per LAYER_ARCH, as shared/Makefile passes them to pip."""
    platforms: dict[str, list[str]] = {}
    for line in LAYER_MAKEFILE.read_text().splitlines():
        match = re.match(r"^PLATFORMS_(\w+)\s*:?=\s*(.+)$", line)
        if match:
            platforms[match.group(1)] = shlex.split(match.group(2))
    if not platforms:
        sys.exit(f"no PLATFORMS_<arch> := --platform ... lines in {LAYER_MAKEFILE}")
    return platforms


def wheel_flags(platform_flags: list[str]) -> list[str]:
    return ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION, *platform_flags]


def sha256_of(url: str) -> str:
    """Only for an index that publishes no hash: download the file and hash it."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url) as response:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def chosen_wheels(platform_flags: list[str], index_url: str, work: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (version, wheel file name, sha256) that pip picks for requirements-layer.txt on one platform.

    A dry run with a report: pip reads the wheels' metadata (PEP 658) and the index's hashes, and
    downloads no wheel. --isolated: the machine's pip config (local indexes, find-links,
    constraints) plays no part, so every machine writes the same file.
    """
    report = work / "report.json"
    command = [
        sys.executable, "-m", "pip", "install", "--isolated", "--quiet", "--disable-pip-version-check",
        "--index-url", index_url, "--dry-run", "--ignore-installed", "--no-deps",
        *wheel_flags(platform_flags), "--target", str(work / "target"), "--report", str(report),
        "-r", str(LAYER_PINS),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    chosen: dict[str, tuple[str, str, str]] = {}
    for item in json.loads(report.read_text())["install"]:
        url = item["download_info"]["url"]
        digest = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256") or sha256_of(url)
        name = canonical(item["metadata"]["name"])
        chosen[name] = (item["metadata"]["version"], url.rsplit("/", 1)[-1].split("#")[0], digest)
    return chosen


def layer_lock_text(index_url: str) -> str:
    pins = read_pins(LAYER_PINS)
    platforms = layer_platforms()
    per_arch: dict[str, dict[str, tuple[str, str, str]]] = {}
    for arch, flags in platforms.items():
        with tempfile.TemporaryDirectory(prefix=f"lock-{arch}-") as work:
            per_arch[arch] = chosen_wheels(flags, index_url, Path(work))
        got = {name: version for name, (version, _, _) in per_arch[arch].items()}
        if got != pins:
            sys.exit(f"pip chose {sorted(got.items())} for {arch}, not the pins {sorted(pins.items())}")
    lines = [
        "# Hashed lock of shared/requirements-layer.txt (edit that file, not this one). Generated; regenerate:",
        f"#    {REGENERATE}",
        "# Each hash is the sha256 of the wheel shared/Makefile installs for one LAYER_ARCH "
        f"(pip, cp{PYTHON_VERSION.replace('.', '')}, --only-binary, --no-deps):",
        *(f"#    {arch}: {' '.join(flags)}" for arch, flags in platforms.items()),
        "# Install: pip install --require-hashes --no-deps --only-binary=:all: --implementation cp",
        f"#    --python-version {PYTHON_VERSION} <the arch's --platform flags> --target DIR -r requirements-layer.lock",
    ]
    for name in sorted(pins):
        digests = sorted({per_arch[arch][name][2] for arch in platforms})
        lines.append(f"{name}=={pins[name]} \\")
        lines += [
            f"    --hash=sha256:{digest}" + (" \\" if i < len(digests) - 1 else "") for i, digest in enumerate(digests)
        ]
        files: dict[str, list[str]] = {}
        for arch in platforms:
            files.setdefault(per_arch[arch][name][1], []).append(arch)
        lines += [f"    # {', '.join(arches)}: {file}" for file, arches in files.items()]
    return "\n".join(lines) + "\n"


def find_uv(explicit: str | None) -> str:
    found = explicit or shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        sys.exit("uv not found: install it (pip install uv, or make's tools venv) or pass --uv PATH")
    return found


def compile_dev(uv: str, output: Path, index_url: str, upgrade: bool, constraints: Path | None = None) -> None:
    """uv pip compile pyproject.toml (+ build-system requires) into output, keeping output's pins."""
    build_requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    command = [
        uv, "pip", "compile", str(PYPROJECT.relative_to(ROOT)), "-",
        *(arg for extra in DEV_EXTRAS for arg in ("--extra", extra)),
        "--generate-hashes", "--python-version", PYTHON_VERSION, "--python-platform", DEV_PLATFORM,
        "--index-url", index_url, "--no-header", "--quiet", "--output-file", str(output),
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    if constraints:
        command += ["--constraint", str(constraints)]
    subprocess.run(command, input="\n".join(build_requires) + "\n", text=True, check=True, cwd=ROOT)
    body = output.read_text()
    header = [
        "# Hashed lock of the dev environment (.venv): pyproject.toml with extras "
        f"{', '.join(DEV_EXTRAS)}, plus [build-system] requires,",
        f"# resolved for linux x86_64, Python {PYTHON_VERSION}. Generated; regenerate (pins kept unless --upgrade):",
        f"#    {REGENERATE}",
        "# Install: pip install --require-hashes --no-deps -r requirements-dev.lock",
        "#    then: pip install --no-deps --no-build-isolation -e .",
    ]
    output.write_text("\n".join(header) + "\n" + body)


def diff(label: str, want: Pins, have: Pins) -> list[str]:
    problems = []
    for name in sorted(want.keys() | have.keys()):
        if want.get(name) != have.get(name):
            problems.append(
                f"{label}: {name} should be {want.get(name, '(absent)')}, lock has {have.get(name, '(absent)')}"
            )
    return problems


def check_layer() -> list[str]:
    if not LAYER_LOCK.exists():
        return [f"{LAYER_LOCK.relative_to(ROOT)} is missing"]
    label = str(LAYER_LOCK.relative_to(ROOT))
    problems = diff(label, read_pins(LAYER_PINS), read_pins(LAYER_LOCK))
    problems += [f"{label}: {name} has no hash" for name, digests in read_hashes(LAYER_LOCK).items() if not digests]
    return problems


def check_dev(uv: str, index_url: str) -> list[str]:
    if not DEV_LOCK.exists():
        return [f"{DEV_LOCK.relative_to(ROOT)} is missing"]
    label = str(DEV_LOCK.relative_to(ROOT))
    locked = read_pins(DEV_LOCK)
    with tempfile.TemporaryDirectory(prefix="lock-dev-") as work:
        # The lock's pins as constraints, into an empty file: uv would copy the hashes of an existing
        # output file. A package pyproject.toml no longer needs drops out, one it newly needs comes
        # in, and a pin it no longer allows makes the resolution fail.
        constraints, fresh = Path(work) / "constraints.txt", Path(work) / DEV_LOCK.name
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in locked.items()))
        try:
            compile_dev(uv, fresh, index_url, upgrade=False, constraints=constraints)
        except subprocess.CalledProcessError:
            return [f"{label}: its pins no longer resolve with pyproject.toml (uv's message above)"]
        problems = diff(label, read_pins(fresh), locked)
        published = read_hashes(fresh)
    for name, digests in read_hashes(DEV_LOCK).items():
        if not digests:
            problems.append(f"{label}: {name} has no hash")
        elif name in published and not set(digests) <= set(published[name]):
            # a file added to a release later is fine; a hash the index never listed is not
            problems.append(f"{label}: {name} has hashes the index does not list for that version")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare the locks with their sources, write nothing")
    parser.add_argument("--only", choices=["layer", "dev"], help="one lock file only")
    parser.add_argument("--upgrade", action="store_true", help="dev lock: newest versions pyproject.toml allows")
    parser.add_argument("--uv", help="the uv executable (default: beside this Python, then PATH)")
    parser.add_argument("--index-url", default=INDEX_URL, help=f"package index (default {INDEX_URL})")
    args = parser.parse_args()
    do_layer, do_dev = args.only in (None, "layer"), args.only in (None, "dev")

    if args.check:
        problems = (check_layer() if do_layer else []) + (check_dev(find_uv(args.uv), args.index_url) if do_dev else [])
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            sys.exit(f"lock files out of date: run {REGENERATE}")
        print("lock files match their sources")
        return
    if do_layer:
        LAYER_LOCK.write_text(layer_lock_text(args.index_url))
        print(f"wrote {LAYER_LOCK.relative_to(ROOT)}")
    if do_dev:
        compile_dev(find_uv(args.uv), DEV_LOCK, args.index_url, args.upgrade)
        print(f"wrote {DEV_LOCK.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
