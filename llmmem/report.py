"""Results -> a JSON-ready dict (the CLI's --json and the app's /estimate API) and plain-text tables.

Bytes stay ints in the dict; conversion to GB (10^9) or GiB (2^30) happens only in the format helpers.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import LlmmemError
from .gpus import GPU, get_gpu, gpus_needed
from .memory import largest_layer_bytes, seed_formula_bytes, training_adam_bytes, weights_bytes
from .precisions import Precision, parse_precisions
from .resolve import Resolved
from .serving import ServingOptions, estimate_serving

DEFAULT_GPUS: tuple[str, ...] = ("A100-80GB", "H100-80GB")
# NOTE: each precision row's serving total has its weights in that precision: (dtype, weights format).
ROW_SERVING = {"fp32": ("float32", "fp32"), "fp16": (None, "fp16"), "fp8": (None, "fp8"), "int8": (None, "w8a8"), "int4": (None, "w4a16")}
UNITS = {"GB": 10**9, "GiB": 2**30}

_ARCHITECTURE_FIELDS = (
    "num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "intermediate_size",
    "vocab_size", "max_position_embeddings", "num_experts", "experts_per_token", "num_shared_experts",
    "kv_lora_rank", "sliding_window", "tie_word_embeddings", "torch_dtype",
)


def build_report(
    resolved: Resolved,
    precisions: list[Precision] | str | None = None,
    gpus: list[GPU] | list[str] | None = None,
    serving: ServingOptions | None = None,
    serving_required: bool = True,
) -> dict:
    """Everything the front ends show, as plain data. `gpus` and `precisions` accept names too.

    With serving_required=False a serving estimate that cannot be made (an unsupported checkpoint
    format, say) becomes a note instead of an error, so the precision table still answers.
    """
    spec = resolved.spec
    chosen = parse_precisions(precisions)
    gpu_list = [g if isinstance(g, GPU) else get_gpu(g) for g in (gpus or DEFAULT_GPUS)]
    rows = []
    for precision in chosen:
        seed = seed_formula_bytes(spec.parameters, precision.bits)
        rows.append(
            {
                "name": precision.name,
                "label": precision.label,
                "bits": precision.bits,
                "weights_bytes": weights_bytes(spec.parameters, precision),
                "seed_formula_bytes": seed,
                "largest_layer_bytes": largest_layer_bytes(spec, precision),
                "training_adam_bytes": training_adam_bytes(spec.parameters, precision),
                "gpus": [_gpu_count(seed, gpu, spec) for gpu in gpu_list],
                **_row_serving(spec, precision, serving),
            }
        )
    notes = list(resolved.notes) + _notes(spec)
    serving_report = None
    if serving is not None:
        try:
            serving_report = estimate_serving(spec, serving)
        except LlmmemError as exc:
            if serving_required:
                raise
            notes.append(f"no serving estimate: {exc}")
    report = {
        "model": spec.name,
        "source": resolved.source,
        "model_type": spec.model_type,
        "parameters": spec.parameters,
        "active_parameters": spec.active_parameters,
        "approximate": spec.approximate,
        "revision": resolved.revision,
        "checkpoint_dtypes": dict(resolved.safetensors) if resolved.safetensors else None,
        "architecture": {field: getattr(spec, field) for field in _ARCHITECTURE_FIELDS if getattr(spec, field) is not None}
        if spec.has_shape
        else None,
        "notes": notes,
        "gpus": [{"gpu": g.name, "label": g.label, "memory_bytes": g.memory_bytes} for g in gpu_list],
        "precisions": rows,
        "serving": serving_report,
    }
    return report


def _row_serving(spec, precision: Precision, serving: ServingOptions | None) -> dict:
    """The serving total per GPU with the weights in this row's precision (None where it cannot be made)."""
    if serving is None:
        return {}
    dtype, weights_format = ROW_SERVING[precision.name]
    try:
        estimate = estimate_serving(spec, replace(serving, dtype=dtype or serving.dtype, quantization=weights_format))
    except LlmmemError:
        return {"serving_total_bytes": None, "serving_fits": None}
    return {"serving_total_bytes": estimate["total_bytes_per_gpu"], "serving_fits": estimate["fits"]}


def _gpu_count(load_bytes: int, gpu: GPU, spec) -> dict:
    needed = gpus_needed(load_bytes, gpu, spec if spec.has_shape else None)
    return {"gpu": gpu.name, "count": needed.count, "tp_count": needed.tp_count, "nodes": needed.nodes}


def _notes(spec) -> list[str]:
    notes = []
    if spec.approximate:
        notes.append(f"approximate: {spec.model_type!r} is not a family llmmem knows exactly; a generic decoder formula was used")
    if not spec.has_shape:
        notes.append("only a parameter count is known: largest layer, KV cache and tensor-parallel head checks need a config")
    return notes


def format_bytes(value: int | None, unit: str = "GB") -> str:
    if value is None:
        return "n/a"
    return f"{value / UNITS[unit]:,.2f} {unit}"


def format_count(value: int | None) -> str:
    """8030261248 -> '8.03B' (for people; the JSON keeps the exact int)."""
    if value is None:
        return "n/a"
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= scale:
            return f"{value / scale:,.2f}{suffix}"
    return str(value)


def table_rows(report: dict, unit: str = "GB") -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the precision table, every figure labelled with its unit."""
    headers = ["precision", "weights", "rule of thumb x1.2", "largest layer", "training (Adam)"]
    headers += [f"{g['gpu']} (count / TP)" for g in report["gpus"]]
    rows = []
    for row in report["precisions"]:
        cells = [
            row["label"],
            format_bytes(row["weights_bytes"], unit),
            format_bytes(row["seed_formula_bytes"], unit),
            format_bytes(row["largest_layer_bytes"], unit),
            format_bytes(row["training_adam_bytes"], unit),
        ]
        for count in row["gpus"]:
            nodes = f" ({count['nodes']} nodes of 8)" if count["nodes"] > 1 else ""
            cells.append(f"{count['count']} / {count['tp_count']}{nodes}")
        rows.append(cells)
    return headers, rows


def format_table(report: dict, unit: str = "GB") -> str:
    headers, rows = table_rows(report, unit)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    active = f", {format_count(report['active_parameters'])} active" if report["active_parameters"] else ""
    lines = [
        f"{report['model']}: {report['parameters']:,} parameters ({format_count(report['parameters'])}{active})"
        f" [{report['source']}{', approximate' if report['approximate'] else ''}]",
        "",
        line(headers),
        line(["-" * w for w in widths]),
        *(line(r) for r in rows),
    ]
    if report.get("serving"):
        lines += ["", *format_serving(report["serving"], unit)]
    gpus = ", ".join(f"{g['gpu']} = {format_bytes(g['memory_bytes'], unit)}" for g in report["gpus"])
    lines += ["", f"GPU memory as CUDA reports it: {gpus}.", f"{unit} = {'10^9' if unit == 'GB' else '2^30'} bytes."]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def format_serving(serving: dict, unit: str = "GB") -> list[str]:
    """The serving estimate as a short block: each term per GPU, the total, and what fits."""
    size = lambda key: format_bytes(serving[key], unit).rjust(14)  # noqa: E731
    if serving["engine"] == "vllm":
        head = (f"vLLM on {serving['gpu']}: tp {serving['tp']}, pp {serving['pp']}, gpu_memory_utilization "
                f"{serving['gpu_memory_utilization']}, max_model_len {serving['max_model_len']:,}, "
                f"weights {serving['weights_format']}, KV cache {serving['kv_cache_dtype']}")
        context = serving["max_model_len"]
        kv_label = "available KV cache memory"
    else:
        head = (f"serving on {serving['gpu']} (generic estimate): tp {serving['tp']}, pp {serving['pp']}, "
                f"weights {serving['weights_format']}, KV cache {serving['kv_cache_dtype']}, "
                f"context {serving['context']:,} x {serving['batch']} sequence(s)")
        context = serving["context"]
        kv_label = "KV cache"
    verdict = "fits" if serving["fits"] else "does not fit: try --tp/--pp, a smaller precision or context"
    return [
        head,
        f"  weights per GPU            {size('weights_bytes_per_gpu')}",
        f"  {kv_label:<27}{size('kv_cache_bytes_per_gpu')}  ({serving['kv_cache_bytes_per_token']:,} bytes per token)",
        f"  activations                {size('activation_bytes')}",
        f"  runtime (non-torch)        {size('non_torch_bytes')}",
        f"  total per GPU              {size('total_bytes_per_gpu')}  of {format_bytes(serving['gpu_memory_bytes'], unit)}: {verdict}",
        f"  KV cache holds {serving['kv_cache_tokens']:,} tokens: max concurrency {serving['max_concurrency']:,}"
        f" at {context:,} tokens per sequence",
    ]
