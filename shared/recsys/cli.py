"""`recsys`: train, evaluate, report, score, synth, publish, rollback, versions, serve.

Every expected failure ends with exit code 2 and one line on stderr; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from recsys.errors import PromotionRefusedError, RecsysError

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage block; one readable line is what we promise
        self.exit(2, f"recsys: error: {message} (see '{self.prog} --help')\n")


def _train(args: argparse.Namespace) -> int:
    from recsys.config import load_settings
    from recsys.train.evaluate import metrics_table
    from recsys.train.pipeline import TrainJob, run_pipeline
    from recsys.train.rundir import RunDir

    settings = load_settings(args.config, args.set or [])
    run_dir = args.run_dir or args.out.with_name(args.out.name + ".run")
    job = TrainJob(args.interactions, args.items, args.out, RunDir(run_dir), settings)
    steps = [s for s in (args.steps or "").split(",") if s]
    # bars on a terminal; a CI log or a pipe gets them only when asked (-v)
    show_progress = args.verbose or (sys.stderr.isatty() and not args.quiet)
    manifest = run_pipeline(job, steps, show_progress=show_progress)
    if manifest is None:
        print(f"ran {', '.join(steps)} in {run_dir}")
        return 0
    print(metrics_table(manifest.metrics))
    print(f"\nmodel {manifest.version} written to {args.out} (run directory: {run_dir})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from recsys import artifacts as A
    from recsys.train.evaluate import metrics_table

    manifest = A.Manifest.read(args.model)
    if not args.markdown:
        print(f"model {manifest.version} (created {manifest.created_at})\n")
    print(metrics_table(manifest.metrics, markdown=args.markdown))
    return 0


def _report(args: argparse.Namespace) -> int:
    from recsys.train.report import write_report

    print(write_report(args.model, args.out, users=args.users))
    return 0


def _score(args: argparse.Namespace) -> int:
    from recsys.batch.local import check_paths, row_rules, score_file
    from recsys.loaded import LoadedModel

    rules = row_rules(args.k)
    check_paths(args.users, args.out)  # before the model loads: bad arguments fail in a blink
    model = LoadedModel.from_dir(args.model)
    summary = score_file(model, args.users, args.out, rules)
    print(f"scored {summary.rows_scored} of {summary.rows_read} rows with model {model.version} -> {args.out}")
    if summary.errors:
        print(f"{summary.rows_failed} row(s) rejected, each with its line and reason -> {summary.errors}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    try:
        outcome = publish(args.model, S3ModelStore(args.bucket, args.prefix), force=args.force)
    except PromotionRefusedError as exc:
        raise PromotionRefusedError(f"{exc.message} (use --force to publish anyway)") from None
    print(outcome)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from recsys.store.lifecycle import rollback
    from recsys.store.s3 import S3ModelStore

    print(rollback(S3ModelStore(args.bucket, args.prefix), args.to))
    return 0


def _versions(args: argparse.Namespace) -> int:
    from recsys.store.lifecycle import list_versions
    from recsys.store.s3 import S3ModelStore

    rows = list_versions(S3ModelStore(args.bucket, args.prefix))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no versions published")
    for row in rows:
        live = "*" if row["live"] else " "
        ndcg = row["ndcg@10"]
        print(f"{live} {row['version']:<28} {row['created_at']:<27} ndcg@10={ndcg if ndcg is None else f'{ndcg:.4f}'}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    if args.model:
        os.environ["MODEL_DIR"] = str(args.model)
    from recsys.api.app import create_app

    functions = ("rerank", "candidates") if args.function == "all" else (args.function,)
    uvicorn.run(create_app(functions), host=args.host, port=args.port, log_level="info")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from recsys.synthetic import write_dataset

    if min(args.users, args.items, args.interactions, args.days) < 1:
        raise RecsysError("--users, --items, --interactions and --days must be positive")
    interactions, items = write_dataset(
        args.out,
        interactions_format=args.format,
        n_users=args.users,
        n_items=args.items,
        n_interactions=args.interactions,
        days=args.days,
        seed=args.seed,
    )
    print(f"wrote {interactions} and {items}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recsys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="run the training pipeline and write a model directory")
    train.add_argument("--interactions", type=Path, required=True, help="parquet, csv, jsonl or .dat")
    train.add_argument("--items", type=Path, help="item metadata: parquet, csv, jsonl or .dat")
    train.add_argument("--out", type=Path, required=True, help="model directory to write")
    train.add_argument("--config", type=Path, help="settings override file (TOML or JSON)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one setting, e.g. als.factors=32")
    train.add_argument("--run-dir", type=Path, help="step outputs (default: OUT.run next to OUT)")
    train.add_argument("--steps", help="comma-separated steps to (re-)run; default all")
    shown = train.add_mutually_exclusive_group()
    shown.add_argument(
        "--quiet", action="store_true", help="no progress bars (the default when stderr is not a terminal)"
    )
    shown.add_argument("-v", "--verbose", action="store_true", help="progress bars even when stderr is not a terminal")
    train.set_defaults(handler=_train)

    evaluate = sub.add_parser("evaluate", help="print a model's stored metrics table")
    evaluate.add_argument("--model", type=Path, required=True)
    evaluate.add_argument("--markdown", action="store_true", help="Markdown tables (docs/quality.md is made so)")
    evaluate.set_defaults(handler=_evaluate)

    report = sub.add_parser("report", help="write a self-contained HTML report (plots, tables) about a model")
    report.add_argument("--model", type=Path, required=True)
    report.add_argument("--out", type=Path, help="HTML file to write (default: MODEL.report.html next to MODEL)")
    report.add_argument("--users", type=int, help="known users sampled for the top-10 statistics (default 2000)")
    report.set_defaults(handler=_report)

    score = sub.add_parser("score", help="local batch scoring of a file of user ids")
    score.add_argument("--model", type=Path, required=True)
    score.add_argument("--users", type=Path, required=True, help="jsonl, csv or parquet (.gz too) as batch takes them")
    score.add_argument("--k", type=int, help="k for rows that name none (default DEFAULT_K, 10); rows may carry k")
    score.add_argument("--out", type=Path, required=True, help="parquet: user_id, rank, item_id, score, reason")
    score.set_defaults(handler=_score)

    synth = sub.add_parser("synth", help="write a synthetic dataset (power-law popularity, trends, genres) of any size")
    synth.add_argument("--out", type=Path, required=True, help="folder for interactions.* and items.parquet")
    synth.add_argument("--users", type=int, default=50_000)
    synth.add_argument("--items", type=int, default=20_000)
    synth.add_argument("--interactions", type=int, default=1_000_000, help="distinct (user, item) pairs to draw")
    synth.add_argument("--days", type=int, default=90, help="time span of the interactions")
    synth.add_argument("--seed", type=int, default=0, help="same seed and sizes, same bytes")
    synth.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="of the interactions file")
    synth.set_defaults(handler=_synth)

    for name, handler, text in (
        ("publish", _publish, "upload a model directory and make it live"),
        ("rollback", _rollback, "make an earlier version live"),
        ("versions", _versions, "list published versions"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--bucket", required=True)
        command.add_argument("--prefix", default="recsys")
        command.set_defaults(handler=handler)
        if name == "publish":
            command.add_argument("--model", type=Path, required=True)
            command.add_argument("--force", action="store_true", help="skip the promotion gate")
        elif name == "rollback":
            command.add_argument("--to", required=True, metavar="VERSION")
        else:
            command.add_argument("--json", action="store_true")

    serve = sub.add_parser("serve", help="run a function's HTTP app under uvicorn on 127.0.0.1")
    serve.add_argument("--function", choices=("all", "rerank", "candidates"), default="all")
    serve.add_argument("--model", type=Path, help="local model directory (else MODEL_BUCKET/MODEL_PREFIX)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except RecsysError as exc:
        print(f"recsys: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("recsys: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
