"""`python -m llmmem MODEL ...`: a thin CLI over resolve -> build_report. Errors become one line, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import InputError, LlmmemError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(EXIT_USAGE, f"llmmem: {message}: see python -m llmmem --help\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and at most 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m llmmem",
        description="How much GPU memory a model needs, by precision, and how many GPUs of which kind.",
    )
    parser.add_argument("model", help="config.json path or folder, catalog or Hub model ID / URL, or a count like 70B")
    parser.add_argument("--precisions", default=None, help="comma-separated: fp32,fp16,fp8,int8,int4 (default fp32,fp16,int8,int4)")
    parser.add_argument("--gpu", action="append", metavar="NAME", help="GPU to size for, repeatable: H100-80GB, A100-80GB, ..., or a size like 48GB")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--unit", choices=("GB", "GiB"), default="GB", help="units of the table: GB = 10^9 bytes (default), GiB = 2^30")
    hub = parser.add_argument_group("Hugging Face Hub")
    hub.add_argument("--offline", action="store_true", help="never reach the Hub: answer from the bundled catalog")
    hub.add_argument("--token", default=None, help="access token for gated/private models (default: $HF_TOKEN)")
    hub.add_argument("--revision", default=None, help="branch, tag or commit on the Hub (or write org/name@rev)")
    serving = parser.add_argument_group("serving")
    serving.add_argument("--engine", choices=("vllm",), default=None, help="predict what vLLM reserves at start-up")
    serving.add_argument("--tp", type=_positive_int, default=1, help="tensor-parallel size")
    serving.add_argument("--pp", type=_positive_int, default=1, help="pipeline-parallel size")
    serving.add_argument("--dtype", choices=("auto", "bfloat16", "float16", "float32"), default="auto")
    serving.add_argument("--quantization", choices=("fp8", "w8a8", "w4a16", "awq", "gptq", "bnb-nf4", "mxfp4"), default=None)
    serving.add_argument("--kv-cache-dtype", choices=("auto", "fp16", "bf16", "fp8"), default="auto")
    serving.add_argument("--context", type=_positive_int, default=None, help="tokens per sequence (generic estimate)")
    serving.add_argument("--batch", type=_positive_int, default=1, help="concurrent sequences (generic estimate)")
    serving.add_argument("--gpu-memory-utilization", type=_fraction, default=0.9)
    serving.add_argument("--max-num-batched-tokens", type=_positive_int, default=None)
    serving.add_argument("--max-num-seqs", type=_positive_int, default=None)
    serving.add_argument("--max-model-len", type=_positive_int, default=None)
    return parser


_SERVING_FLAGS = (
    "engine", "tp", "pp", "dtype", "quantization", "kv_cache_dtype", "context", "batch",
    "gpu_memory_utilization", "max_num_batched_tokens", "max_num_seqs", "max_model_len",
)


def run(args: argparse.Namespace) -> dict:
    from .gpus import get_gpu
    from .precisions import parse_precisions
    from .report import DEFAULT_GPUS, build_report
    from .resolve import resolve
    from .serving import ServingOptions

    precisions = parse_precisions(args.precisions)
    gpus = [get_gpu(name) for name in (args.gpu or DEFAULT_GPUS)]
    token = args.token or os.environ.get("HF_TOKEN") or None
    resolved = resolve(args.model, token=token, offline=args.offline, revision=args.revision)
    serving = None
    if resolved.spec.has_shape:
        serving = ServingOptions(
            gpu=gpus[0],
            engine=args.engine,
            tp=args.tp,
            pp=args.pp,
            dtype=None if args.dtype == "auto" else args.dtype,
            quantization=args.quantization,
            kv_cache_dtype=args.kv_cache_dtype,
            context=args.context,
            batch=args.batch,
            gpu_memory_utilization=args.gpu_memory_utilization,
            max_num_batched_tokens=args.max_num_batched_tokens,
            max_num_seqs=args.max_num_seqs,
            max_model_len=args.max_model_len,
        )
    elif args.engine:
        raise InputError(f"{args.model!r} is only a parameter count: a serving estimate needs the model's config.json or ID")
    parser = build_parser()
    asked = any(getattr(args, name) != parser.get_default(name) for name in _SERVING_FLAGS)
    return build_report(resolved, precisions, gpus, serving, serving_required=asked)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except LlmmemError as exc:
        print(f"llmmem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from .report import format_table

        print(format_table(report, args.unit))
    return 0
