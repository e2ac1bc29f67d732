"""`make model-card`: the demo model's figures in README.md and docs/quality.md, written from the model.

The card is `recsys evaluate --markdown` plus a digest of the model's files (names and sha256, as
the manifest lists them): the same data and settings must give the same bytes, not only the same
rounded metrics. docs/quality.md holds the whole card, README.md its first table. With --check
nothing is written: exit 1 and a diff when a document no longer says what the model says
(tests/integration/test_reproducible_figures.py retrains the demo and runs this).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import sys
from pathlib import Path

from recsys import artifacts as A
from recsys.train.evaluate import metrics_table

ROOT = Path(__file__).resolve().parents[2]
BEGIN = "<!-- model-card: written by `make model-card` from models/demo; do not edit by hand -->"
END = "<!-- /model-card -->"


def files_digest(manifest: A.Manifest) -> str:
    """One digest over every model file's name and sha256 (the manifest itself, which holds times, excluded)."""
    listing = "\n".join(f"{entry.name} {entry.sha256}" for entry in sorted(manifest.files, key=lambda e: e.name))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def card(model_dir: Path) -> str:
    manifest = A.Manifest.read(model_dir)
    return f"{metrics_table(manifest.metrics, markdown=True)}\n\nmodel files sha256 digest: `{files_digest(manifest)}`"


def summary(full_card: str) -> str:
    """The backtest line and the per-fold table: the card up to every system's row."""
    return full_card.split("\nEvery system on the test fold")[0].strip()


def with_block(document: str, block: str, path: Path) -> str:
    if BEGIN not in document or END not in document:
        raise SystemExit(f"model_card: {path}: no model-card markers")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "demo")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a document differs")
    args = parser.parse_args()
    full = card(args.model)
    stale = []
    for path, block in ((ROOT / "docs" / "quality.md", full), (ROOT / "README.md", summary(full))):
        before = path.read_text(encoding="utf-8")
        after = with_block(before, block, path)
        if after == before:
            continue
        stale.append(path)
        if args.check:
            diff = difflib.unified_diff(
                before.splitlines(), after.splitlines(), str(path), "from the model", lineterm=""
            )
            print("\n".join(diff))
        else:
            path.write_text(after, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
    if args.check and stale:
        print(f"model_card: {', '.join(str(p.relative_to(ROOT)) for p in stale)} differ from {args.model}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
