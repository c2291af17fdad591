"""`python -m llmmem MODEL ...`, `python -m llmmem plan MODEL ...`, `python -m llmmem vllm serve MODEL ...`
and `python -m llmmem train ...`: thin front ends over make_request -> estimate_request / plan_request /
check_vllm_serve. Errors become one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .cli_common import EXIT_USAGE, Parser, add_hub_flags, guarded, token_from
from .request import DTYPES, KV_CACHE_DTYPES, UNITS


def _engine_names() -> tuple[str, ...]:
    from .engines import ENGINES

    return tuple(ENGINES)


def _weight_names() -> tuple[str, ...]:
    from .quantization import FORMATS

    return ("auto", *FORMATS)


def _add_engine_flags(group, *, many: bool) -> None:
    """Flags both the main command and `plan` take; numbers are checked by make_request (request.LIMITS)."""
    group.add_argument("--engine", choices=_engine_names(), default=None, help="serving engine (default vllm)")
    group.add_argument("--dtype", choices=DTYPES, default=None)
    weights = dict(action="extend", nargs="+") if many else {}
    group.add_argument("--weights", "--quantization", dest="weights", choices=_weight_names(), default=None,
                       help="weights format: auto (the checkpoint's own) or a format" + (" (several: each is tried)" if many else ""), **weights)
    group.add_argument("--kv-cache-dtype", choices=KV_CACHE_DTYPES, default=None, **weights)
    group.add_argument("--context", default=None, help="tokens per sequence, or max (default: min(8192, the model's maximum))")
    group.add_argument("--concurrency", "--batch", dest="concurrency", default=None, help="sequences served at once, or max (default 1)")
    group.add_argument("--tp", default=None, help="tensor-parallel size (default: the planner's)")
    group.add_argument("--pp", default=None, help="pipeline-parallel size (default: the planner's)")
    group.add_argument("--max-gpus", default=None, help="most GPUs a plan may use (default 64)")
    group.add_argument("--gpu-memory-utilization", default=None, help="vLLM's fraction of GPU memory (default 0.9)")
    group.add_argument("--max-num-batched-tokens", default=None, help="vLLM's prefill chunk (default: vLLM's per-GPU default)")
    group.add_argument("--max-num-seqs", default=None, help="vLLM's scheduler cap (default: vLLM's per-GPU default)")
    group.add_argument("--max-model-len", default=None, help="vLLM's max_model_len (default: the context); longer sizes the plan for it")
    group.add_argument("--new-tokens", default=None, help="tokens generate() adds per sequence (engine transformers; default 0: one prefill)")
    group.add_argument("--allow-long-context", action="store_true",
                       help="allow a context beyond the model's max_position_embeddings (vLLM: VLLM_ALLOW_LONG_MAX_MODEL_LEN=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m llmmem",
        description="How much GPU memory a model needs, by precision, how many GPUs of which kind, and how to launch it. "
        "Subcommands: `plan MODEL ...` (search GPUs and layouts), `vllm serve MODEL [vLLM flags]` (will it start?), `train ...`.",
    )
    parser.add_argument("model", help="config.json path or folder, catalog or Hub model ID / URL, or a count like 70B")
    parser.add_argument("--precisions", default=None, help="comma-separated: fp32,fp16,fp8,int8,int4 (default fp32,fp16,int8,int4)")
    parser.add_argument("--gpu", action="append", metavar="NAME", help="GPU to size for, repeatable: H100-80GB, A100-80GB, ..., or a size like 48GB")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--unit", choices=tuple(UNITS), default="GB", help="units of the table: GB = 10^9 bytes (default), GiB = 2^30")
    add_hub_flags(parser)
    _add_engine_flags(parser.add_argument_group("serving"), many=False)
    return parser


def build_plan_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m llmmem plan",
        description="Search GPU type x count x tensor/pipeline parallel for the configurations that serve a target, best first.",
    )
    parser.add_argument("model", help="config.json path or folder, catalog or Hub model ID / URL")
    parser.add_argument("--gpu", action="append", metavar="NAME", help="GPU types to consider, repeatable (default: the whole catalog)")
    parser.add_argument("--price", action="append", metavar="GPU=USD_PER_HOUR", help="price of one GPU per hour, repeatable (overrides the catalog)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--unit", choices=tuple(UNITS), default="GB")
    add_hub_flags(parser)
    _add_engine_flags(parser.add_argument_group("target and engine"), many=True)
    return parser


def request_from_args(args: argparse.Namespace, *, gpus=None, prices=None):
    """The parsed flags -> one validated Request (flags left unset take the Request's defaults)."""
    from .request import make_request

    raw = {
        "model": args.model, "engine": args.engine, "gpus": gpus if gpus is not None else args.gpu,
        "weights": args.weights, "kv_cache_dtype": args.kv_cache_dtype, "dtype": args.dtype, "context": args.context,
        "concurrency": args.concurrency, "tp": args.tp, "pp": args.pp, "max_gpus": args.max_gpus,
        "gpu_memory_utilization": args.gpu_memory_utilization, "max_num_batched_tokens": args.max_num_batched_tokens,
        "max_num_seqs": args.max_num_seqs, "max_model_len": args.max_model_len, "new_tokens": args.new_tokens,
        "allow_long_context": args.allow_long_context, "revision": args.revision, "offline": args.offline,
        "unit": args.unit, "precisions": getattr(args, "precisions", None), "prices": prices,
    }
    return make_request(**{k: v for k, v in raw.items() if v is not None})


def _estimate(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)

    def run():
        from .report import estimate_request, format_table

        report = estimate_request(request_from_args(args), token=token_from(args)).to_dict()
        return json.dumps(report, indent=2) if args.json else format_table(report, args.unit)

    return guarded(run)


def _plan(argv: list[str]) -> int:
    args = build_plan_parser().parse_args(argv)

    def run():
        from .gpus import GPUS
        from .report import format_plans, plan_request

        gpus = args.gpu or [g.name for g in GPUS]
        result = plan_request(request_from_args(args, gpus=gpus, prices=args.price), token=token_from(args)).to_dict()
        return json.dumps(result, indent=2) if args.json else format_plans(result, args.unit)

    return guarded(run)


def _vllm(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        argv = ["serve", "--help"]
    if not argv or argv[0] != "serve":
        print("llmmem: only `python -m llmmem vllm serve MODEL [vLLM flags]` is known: write vllm serve", file=sys.stderr)
        return EXIT_USAGE
    from .vllm_serve import main as vllm_serve_main

    return vllm_serve_main(argv[1:])


def _train(argv: list[str]) -> int:
    from .cli_train import main as train_main

    return train_main(argv)


SUBCOMMANDS = {"plan": _plan, "vllm": _vllm, "train": _train}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        code = SUBCOMMANDS[argv[0]](argv[1:]) if argv and argv[0] in SUBCOMMANDS else _estimate(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # NOTE: the reader left early (`... | head`): not an error; stop writing to the closed pipe quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
