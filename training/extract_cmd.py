"""`valueshift extract`: read a preference data set, extract the values of every chosen and
rejected response, and write DIR/pairs.jsonl, DIR/extractions.jsonl and DIR/summary.json.

Resumable: extractions are appended batch by batch (fsync'd), and results are cached in SQLite by
(extractor config, response content). A killed run, restarted with the same arguments, skips the
pairs already in extractions.jsonl, drops a half-written last line, and re-reads from the cache
anything extracted but not yet written: nothing is lost or written twice. A second run on the
same data (even into another folder) reads everything from the cache.

At dataset scale: `--shard K/N` extracts the K-th of N contiguous slices (K from 0) into
OUT/shards/K-of-N/, and `valueshift extract --merge --out OUT` joins the N shards into exactly
the files one unsharded run writes (see `valueshift.training.data.shards`). With a vLLM backend
the whole shard goes through one engine in one offline call (`--batch-size 0`, its default there);
`--tensor-parallel-size`, `--data-parallel-size` and `--engine-option KEY=VALUE` reach vLLM's `LLM()`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from valueshift.harness import fileio
from valueshift.harness.contracts import EXTRACTIONS_FILE, PAIRS_FILE, SUMMARY_FILE
from valueshift.harness.errors import InputError

log = logging.getLogger(__name__)
DATASETS = ("hh-rlhf", "pku-saferlhf", "ultrafeedback", "helpsteer2")
# the files an extraction writes into its --out folder: PAIRS_FILE, EXTRACTIONS_FILE, SUMMARY_FILE
# (harness/contracts.py; `subsets` and the pipeline read them)


class ExtractError(InputError):
    """The extraction cannot run or kept nothing; the message names the file and what to change."""


@dataclass
class ExtractRequest:
    """One `valueshift extract` run (the Python API behind the CLI; the pipeline builds these).

    `fields` maps prompt/chosen/rejected to a local file's columns; `options` are the data set's
    own settings (e.g. {"data_dir": "harmless-base"}).
    """

    dataset: str
    out: Path
    data_files: list[str] | None = None
    split: str | None = None
    limit: int | None = None
    extractor: str = "embedding"
    backend: str | None = None
    max_new_tokens: int | None = None
    head_version: int | None = None  # embedding extractor: which shipped values head (default: newest)
    taxonomy: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    format: str | None = None
    batch_size: int | None = None  # pairs per batch and checkpoint: 64; 0 = the whole shard (vllm default)
    cache: str | None = None
    no_cache: bool = False
    strict: bool = False
    overwrite: bool = False
    quiet: bool = False
    shard: str | None = None  # "K/N": extract the K-th of N contiguous slices into OUT/shards/K-of-N
    engine_options: dict[str, Any] = field(default_factory=dict)  # vLLM `LLM(**engine_options)`


def _key_values(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ExtractError(f"{flag} expects KEY=VALUE, got {part!r}")
            out[key.strip()] = value.strip()
    return out


def extraction_row(pair_id: str, chosen, rejected, extractor: str, config_hash: str) -> dict[str, Any]:
    return {
        "pair_id": pair_id,
        "chosen_values": sorted(chosen.values),
        "rejected_values": sorted(rejected.values),
        "chosen_unmapped": list(chosen.unmapped),
        "rejected_unmapped": list(rejected.unmapped),
        "extractor": extractor,
        "config_hash": config_hash,
        "chosen_raw": chosen.raw,
        "rejected_raw": rejected.raw,
    }


def build_extractor(args: ExtractRequest | argparse.Namespace):
    from valueshift.harness.extractors import make_extractor

    options: dict[str, Any] = {}
    if args.extractor == "llm":
        options["backend"] = args.backend or "default"
        if args.max_new_tokens:
            options["max_new_tokens"] = args.max_new_tokens
    elif args.backend:
        raise ExtractError("--backend only applies to --extractor llm")
    head_version = getattr(args, "head_version", None)
    if head_version is not None:
        if args.extractor != "embedding":
            raise ExtractError("--head-version only applies to --extractor embedding")
        from valueshift.harness.detectors.heads import shipped_versions

        shipped = shipped_versions("values")
        if head_version not in shipped:
            raise ExtractError(
                f"--head-version {head_version}: no shipped values head v{head_version} "
                f"(shipped: {', '.join(map(str, shipped))})"
            )
        options["version"] = head_version
    engine_options = dict(getattr(args, "engine_options", None) or {})
    if engine_options:
        if not str(options.get("backend", "")).startswith("vllm:"):
            raise ExtractError(
                "--tensor-parallel-size/--data-parallel-size/--engine-option need --backend vllm:MODEL"
            )
        from valueshift.training.data.shards import LazyEngineBackend

        options["backend"] = LazyEngineBackend(options["backend"], engine_options)
    cache = False if args.no_cache else (args.cache or True)
    return make_extractor(args.extractor, taxonomy=args.taxonomy, cache=cache, **options)


def _batch_size(args: ExtractRequest) -> int:
    """Pairs per extraction call (and per checkpoint). vLLM schedules best when it sees the whole
    shard at once, so that is its default; elsewhere 64."""
    if args.batch_size is not None:
        if args.batch_size < 0:
            raise ExtractError(
                f"--batch-size must be >= 0 (0: the whole shard in one call), got {args.batch_size}"
            )
        return args.batch_size
    return 0 if args.extractor == "llm" and str(args.backend or "").startswith("vllm:") else 64


def request_from_args(args: argparse.Namespace) -> ExtractRequest:
    names = {f.name for f in dataclasses.fields(ExtractRequest)} - {
        "fields",
        "options",
        "out",
        "engine_options",
    }
    engine: dict[str, Any] = {}
    for key, value in _key_values(getattr(args, "engine_option", None), "--engine-option").items():
        engine[key] = yaml.safe_load(value)  # 2 -> int, 0.9 -> float, true -> bool, text stays text
    for key in ("tensor_parallel_size", "data_parallel_size"):
        if getattr(args, key, None):
            engine[key] = getattr(args, key)
    return ExtractRequest(
        out=Path(args.out),
        fields=_key_values(args.fields, "--fields"),
        options=_key_values(args.option, "--option"),
        engine_options=engine,
        **{n: getattr(args, n) for n in names},
    )


def run_extract(args: ExtractRequest | argparse.Namespace) -> dict[str, Any]:
    """Run one extraction; returns the summary (also written to OUT/summary.json).

    Raises `ExtractError` when nothing was kept: a run that keeps 0 pairs is never a success."""
    from tqdm import tqdm

    from valueshift.harness import __version__
    from valueshift.harness.extractors import ExtractionItem
    from valueshift.training.data import LoadReport, data_fingerprint, load_pairs
    from valueshift.training.data.shards import count_values, parse_shard, shard_block, shard_dir

    if isinstance(args, argparse.Namespace):
        args = request_from_args(args)
    started = time.time()
    out = Path(args.out)
    shard = parse_shard(args.shard) if args.shard else None  # a bad K/N fails before any loading
    batch_size = _batch_size(args)
    options: dict[str, Any] = dict(args.options)
    if args.fields:
        options["fields"] = dict(args.fields)
    report = LoadReport()
    pairs = list(
        tqdm(
            load_pairs(
                args.dataset,
                data_files=args.data_files,
                split=args.split,
                limit=args.limit,
                options=options,
                report=report,
                strict=args.strict,
                file_format=args.format,
            ),
            desc="loading pairs",
            unit="pair",
            disable=args.quiet,
        )
    )
    shard_info = None
    if shard is not None:
        shard_info = shard_block([p.to_dict() for p in pairs], *shard)
        if pairs and shard_info["start"] == shard_info["end"]:
            raise ExtractError(
                f"--shard {args.shard}: {len(pairs)} pairs leave this shard empty; use fewer shards"
            )
        pairs = pairs[shard_info["start"] : shard_info["end"]]
        out = shard_dir(out, *shard)
    out.mkdir(parents=True, exist_ok=True)
    pairs_path = out / PAIRS_FILE
    fileio.write_jsonl_atomic(pairs_path, (p.to_dict() for p in pairs))

    extractor = build_extractor(args)
    config, config_hash = extractor.config(), extractor.config_hash()
    ext_path = out / EXTRACTIONS_FILE
    if args.overwrite and ext_path.exists():
        ext_path.unlink()
    existing = fileio.read_complete_jsonl(ext_path, repair=True)
    ids = {p.pair_id for p in pairs}
    done: set[str] = set()
    for row in existing:
        if row.get("config_hash") != config_hash:
            raise ExtractError(
                f"{ext_path} was written with another extractor config "
                f"({row.get('extractor')} {row.get('config_hash')}, now {extractor.name} {config_hash}); "
                "use another --out or --overwrite"
            )
        if row["pair_id"] not in ids:
            raise ExtractError(
                f"{ext_path} holds pair {row['pair_id']} that is not in this "
                "data; use another --out or --overwrite"
            )
        done.add(row["pair_id"])
    todo = [p for p in pairs if p.pair_id not in done]
    if done:
        log.info("resuming: %d of %d pairs already extracted in %s", len(done), len(pairs), ext_path)

    writer = fileio.AppendLog(ext_path)
    bar = tqdm(
        total=len(pairs),
        initial=len(done),
        desc=f"extracting ({extractor.name})",
        unit="pair",
        disable=args.quiet,
    )
    try:
        step = batch_size or max(len(todo), 1)  # 0: the whole shard in one call (one engine pass)
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            items = []
            for p in batch:
                prompt = p.prompt_text()
                items += [ExtractionItem(prompt, p.chosen), ExtractionItem(prompt, p.rejected)]
            results = extractor.extract(items)
            writer.write_many(
                extraction_row(p.pair_id, results[2 * i], results[2 * i + 1], extractor.name, config_hash)
                for i, p in enumerate(batch)
            )
            bar.update(len(batch))
    finally:
        bar.close()
        writer.close()

    rows = fileio.read_complete_jsonl(ext_path)
    counts, unmapped = count_values(rows, list(extractor.taxonomy.names))
    files = list(args.data_files or [])
    if args.dataset not in DATASETS:
        files.append(args.dataset)
    summary = {
        "created_at": fileio.utc_now(),
        "command": "valueshift " + shlex.join(sys.argv[1:])
        if sys.argv and "valueshift" in sys.argv[0]
        else None,
        "valueshift_version": __version__,
        "dataset": args.dataset,
        "split": args.split,
        "limit": args.limit,
        "data": {
            "files": [str(Path(f).resolve()) for f in files if Path(f).is_file()],
            "sha256": data_fingerprint([f for f in files if Path(f).is_file()]) if files else None,
            "pairs_sha256": fileio.sha256_file(pairs_path),
        },
        **report.to_dict(),
        "extracted": len(rows),
        "resumed_from": len(done),
        "extractor": {"name": extractor.name, "config_hash": config_hash, "config": config},
        "cache": {
            "path": str(extractor.cache.path) if hasattr(extractor, "cache") else None,
            "hits": getattr(extractor, "hits", 0),
            "misses": getattr(extractor, "misses", 0),
        },
        "unmapped_phrases": unmapped,
        "value_counts": counts,
        "wall_seconds": round(time.time() - started, 2),
    }
    if shard_info is not None:
        summary["shard"] = shard_info
    fileio.write_json_atomic(out / SUMMARY_FILE, summary)
    if not pairs:
        reasons = ", ".join(f"{k}: {v}" for k, v in summary.get("skip_reasons", {}).items())
        raise ExtractError(
            f"{args.dataset}: no pairs kept ({summary.get('rows_read', 0)} rows read, "
            f"{summary.get('skipped', 0)} skipped{': ' + reasons if reasons else ''}); "
            f"see {out / 'summary.json'} for every skipped row"
        )
    return summary


def cmd_extract(args: argparse.Namespace) -> int:
    from valueshift.training.data.shards import merge_shards, parse_shard, shard_dir

    if getattr(args, "merge", False):
        merged = merge_shards(args.out)
        shards = merged["merged_from"]
        print(f"merged {len(shards)} shards: {merged['extracted']} pairs, pairs sha256 "
              f"{merged['data']['pairs_sha256'][:16]} (the data the shards were cut from)")  # fmt: skip
        print(f"wrote {Path(args.out) / 'pairs.jsonl'}, extractions.jsonl, summary.json")
        return 0
    if not args.dataset:
        args._parser.error("the following arguments are required: --dataset")
    summary = run_extract(args)  # InputErrors (DataLoadError, ExtractError) end as one line, exit 2
    cache = summary["cache"]
    looked = cache["hits"] + cache["misses"]
    print(
        f"rows read {summary['rows_read']}, pairs kept {summary['kept']}, skipped {summary['skipped']}"
        + (
            f" ({', '.join(f'{k}: {v}' for k, v in summary['skip_reasons'].items())})"
            if summary["skipped"]
            else ""
        )
    )
    print(
        f"extracted {summary['extracted']} pairs with {summary['extractor']['name']} "
        f"(config {summary['extractor']['config_hash']}); cache hits {cache['hits']}/{looked} responses"
        + (f"; resumed after {summary['resumed_from']} pairs" if summary["resumed_from"] else "")
        + f"; {summary['wall_seconds']:.1f}s"
    )
    if summary["unmapped_phrases"]:
        print(f"unmapped phrases: {summary['unmapped_phrases']} (see *_unmapped in extractions.jsonl)")
    where = shard_dir(args.out, *parse_shard(args.shard)) if args.shard else Path(args.out)
    print(f"wrote {where / 'pairs.jsonl'}, extractions.jsonl, summary.json")
    if args.shard:
        print(
            f"when all {parse_shard(args.shard)[1]} shards are done: valueshift extract --merge --out {args.out}"
        )
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "extract",
        help="extract the values of chosen and rejected responses in preference data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        help=f"{', '.join(DATASETS)}, or a local JSONL/JSON/CSV/Parquet path (required, except --merge)",
    )
    p.add_argument(
        "--data-files", nargs="+", help="local files in the data set's own schema (instead of the hub)"
    )
    p.add_argument("--split", help="hub split (default: the data set's usual one)")
    p.add_argument("--limit", type=int, help="stop after N pairs")
    p.add_argument("--extractor", choices=("embedding", "lexicon", "llm"), default="embedding")
    p.add_argument(
        "--backend", help="llm extractor backend: default | hf:PATH | vllm:PATH | openai:MODEL@URL"
    )
    p.add_argument("--max-new-tokens", type=int, help="llm extractor answer length")
    p.add_argument(
        "--head-version",
        type=int,
        help="embedding extractor: shipped values head version (default: the newest; 4 reads sentences "
        "with MiniLM only, ~5x faster on CPU and less precise: benchmarks/README.md)",
    )
    p.add_argument("--taxonomy", help="taxonomy YAML (default: the paper's 16 values)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--fields", action="append", help="local files: prompt=COL,chosen=COL,rejected=COL")
    p.add_argument("--option", action="append", help="data-set option KEY=VALUE, e.g. data_dir=harmless-base")
    p.add_argument(
        "--format",
        choices=("jsonl", "json", "csv", "parquet"),
        help="local file format (default: from the name)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="pairs per extraction batch (and per checkpoint); default 64, with a vllm backend 0 = the whole "
        "shard in one engine call",
    )
    p.add_argument("--cache", help="extraction cache file (default: ~/.cache/valueshift/extractions.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the extraction cache")
    p.add_argument("--strict", action="store_true", help="stop at the first bad row instead of skipping it")
    p.add_argument("--overwrite", action="store_true", help="discard extractions already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    g = p.add_argument_group("dataset scale")
    g.add_argument("--shard", metavar="K/N", help="extract the K-th (from 0) of N contiguous slices into "
                   "OUT/shards/K-of-N, e.g. --shard $SLURM_ARRAY_TASK_ID/8")  # fmt: skip
    g.add_argument("--merge", action="store_true", help="join OUT/shards/*-of-N into OUT: the files one "
                   "unsharded run writes (checked by hash)")  # fmt: skip
    g.add_argument(
        "--tensor-parallel-size", type=int, help="vllm backend: GPUs per engine (LLM tensor_parallel_size)"
    )
    g.add_argument("--data-parallel-size", type=int, help="vllm backend: passed to LLM(data_parallel_size=); "
                   "offline, vLLM wants one process per rank, so prefer one --shard per engine")  # fmt: skip
    g.add_argument("--engine-option", action="append", metavar="KEY=VALUE", help="vllm backend: any other "
                   "LLM() argument, e.g. gpu_memory_utilization=0.9 or max_model_len=4096 (repeatable)")  # fmt: skip
    p.set_defaults(func=cmd_extract, _parser=p)
