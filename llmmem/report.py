"""One request -> one Report: the precision table, the planner's best configuration, the serving
estimate at it, and a one-sentence headline. `Report.to_dict()` is exactly what `python -m llmmem
... --json` prints and what the app's /estimate API returns.

Bytes stay ints in the dict; conversion to GB (10^9) or GiB (2^30) happens only in the format helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from .engines import estimate_serving
from .engines.vllm import VllmEstimate
from .errors import InputError, LlmmemError
from .gpus import GPU, get_gpu, gpus_needed
from .memory import largest_layer_bytes, seed_formula_bytes, training_adam_bytes, weights_bytes
from .planner import (MAX, PlanResult, fitted_estimate, needs_stored_checkpoint, plan, scheduler_seqs,
                      stored_checkpoint_words)
from .precisions import PRECISIONS, Precision, parse_precisions
from .request import DEFAULT_CONTEXT, DEFAULT_GPUS, UNITS, Request
from .resolve import Resolved, resolve
from .results import Result
from .serving import ServingEstimate, ServingOptions, context_problem
from .spec import ModelSpec

# NOTE: each precision row is served with its weights in that precision: (dtype, weights format); an
# fp32 row runs in float32 too (vLLM --dtype float32), the others in the checkpoint's 16-bit dtype.
ROW_SERVING = {p.name: ("float32" if p.bits == 32 else None, p.serving_format) for p in PRECISIONS.values()}
DEFAULT_TARGET_TEXT = (f"the default target: min({DEFAULT_CONTEXT:,}, the model's maximum) tokens on the first --gpu "
                       f"({DEFAULT_GPUS[0]}); ask another with --context, --concurrency, --gpu, --engine")

_ARCHITECTURE_FIELDS = (
    "num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "intermediate_size",
    "vocab_size", "max_position_embeddings", "num_experts", "experts_per_token", "num_shared_experts",
    "kv_lora_rank", "sliding_window", "tie_word_embeddings", "torch_dtype",
)


@dataclass(frozen=True)
class Target(Result):
    """The question the plan answers: `concurrency` sequences of `context` tokens on `gpu` with `engine`."""

    engine: str
    gpu: str
    context: int | str
    concurrency: int | str
    default: bool  # True when nothing in the request changed the stated default target


@dataclass(frozen=True)
class RuleOfThumbCount(Result):
    """ceil(rule-of-thumb bytes / GPU memory), and the GPUs a tensor-parallel layout of it uses."""

    count: int
    tp_count: int
    nodes: int


@dataclass(frozen=True)
class GpuColumn(Result):
    """One GPU's cell of a precision row: the planner's best plan for the row's weights (None without a
    config, or when nothing serves the target), the engine's per-GPU terms at that plan, and the rule of
    thumb's count."""

    gpu: str
    count: int | None
    tp: int | None
    pp: int | None
    nodes: int | None
    rule_of_thumb: RuleOfThumbCount
    kv_cache_tokens: int | None = None
    max_concurrency: float | None = None
    max_context: int | None = None
    weights_bytes_per_gpu: int | None = None
    command: str | None = None
    kv_cache_bytes_per_gpu: int | None = None
    activation_bytes: int | None = None
    non_torch_bytes: int | None = None
    total_bytes_per_gpu: int | None = None
    fits: bool | None = None


@dataclass(frozen=True)
class PrecisionRow(Result):
    name: str
    label: str
    bits: int
    weights_format: str
    weights_bytes: int
    seed_formula_bytes: int
    largest_layer_bytes: int | None
    training_adam_bytes: int | None
    gpus: tuple[GpuColumn, ...]
    # the serving total per GPU with this row's weights, at the serving estimate's layout (None: no estimate)
    serving_total_bytes: int | None = None
    serving_fits: bool | None = None


@dataclass(frozen=True)
class GpuInfo(Result):
    gpu: str
    label: str
    memory_bytes: int


@dataclass(frozen=True)
class Report(Result):
    request: Request
    headline: str
    model: str
    source: str
    model_type: str | None
    parameters: int
    active_parameters: int | None
    approximate: bool
    # which path counted `parameters` (spec.counted_by: exact, transformers, generic, given) and its words
    counted_by: str
    count_label: str
    parts: Mapping[str, int]  # parameters per part: text, and vision / projector when there
    mtp: Mapping[str, int] | None  # multi-token-prediction layers the checkpoint ships, not counted
    revision: str | None
    checkpoint_dtypes: Mapping[str, int] | None
    architecture: Mapping | None
    target: Target | None
    gpus: tuple[GpuInfo, ...]
    precisions: tuple[PrecisionRow, ...]
    plan: PlanResult | None
    serving: ServingEstimate | None
    notes: tuple[str, ...]
    # fine-tuning as transformers runs it, default recipe (full bf16, AdamW, batch 1 x 2048, no checkpointing):
    # {"recipe", "optimizer", "batch", "seq_len", "checkpointing", "peak_bytes", "accelerate_training_bytes"}
    training: Mapping | None = None


def _resolve(request: Request, token: str | None, allow_local_files: bool, prefer_catalog: bool = False) -> Resolved:
    return resolve(request.model, token=token, offline=request.offline, revision=request.revision,
                   allow_local_files=allow_local_files, prefer_catalog=prefer_catalog)


def target_context(spec: ModelSpec, request: Request) -> int | str:
    if request.context is not None:
        return request.context
    return min(DEFAULT_CONTEXT, spec.max_position_embeddings or DEFAULT_CONTEXT, request.max_model_len or DEFAULT_CONTEXT)


def serving_options(request: Request, gpu: GPU, tp: int, pp: int, context: int, concurrency: int,
                    weights: str | None = None, kv: str | None = None, dtype: str | None = None) -> ServingOptions:
    weights = weights or request.weights[0]
    return ServingOptions(
        gpu=gpu, engine=request.engine, tp=tp, pp=pp,
        dtype=dtype or (None if request.dtype == "auto" else request.dtype),
        quantization=None if weights == "auto" else weights,
        kv_cache_dtype=kv or request.kv_cache_dtype[0], context=context, batch=concurrency,
        gpu_memory_utilization=request.gpu_memory_utilization,
        max_num_batched_tokens=request.max_num_batched_tokens, max_num_seqs=request.max_num_seqs,
        max_model_len=request.max_model_len or context, new_tokens=request.new_tokens,
        allow_long_context=request.allow_long_context,
    )


def fixed_layout(request: Request) -> dict:
    """A layout named in the request is the layout answered: --tp 2 alone means tp 2, pp 1."""
    if not request.layout_given:
        return {"tp": None, "pp": None}
    return {"tp": request.tp or 1, "pp": request.pp or 1}


def launch_name(resolved: Resolved, request: Request) -> str:
    """What `vllm serve` is given: the repo ID for catalog and Hub models, else the path typed (its folder
    for a config.json file, as vLLM loads a model folder)."""
    if resolved.source in ("catalog", "hub"):
        return resolved.spec.name
    text = request.model.strip()
    return text[: -len("config.json")].rstrip("/") or "." if text.endswith("config.json") else text


def _plan(spec, request: Request, gpus: list[GPU], context, concurrency, weights=None, dtype=None, model: str | None = None) -> PlanResult:
    """The planner for `request`'s target, over `gpus`, with the request's engine flags."""
    return plan(
        spec, model=model or request.model, engine=request.engine, gpus=gpus, context=context, concurrency=concurrency,
        max_gpus=request.max_gpus, weights=weights or request.weights, kv_cache_dtypes=request.kv_cache_dtype,
        prices=dict(request.prices), dtype=dtype or request.dtype, gpu_memory_utilization=request.gpu_memory_utilization,
        max_num_batched_tokens=request.max_num_batched_tokens, max_num_seqs=request.max_num_seqs,
        allow_long_context=request.allow_long_context, max_model_len=request.max_model_len, **fixed_layout(request),
    )


def _precision_row(spec: ModelSpec, precision: Precision, gpus: list[GPU], request: Request, context, concurrency) -> PrecisionRow:
    seed = seed_formula_bytes(spec.parameters, precision.bits)
    dtype, weights_format = ROW_SERVING[precision.name]
    columns = []
    for gpu in gpus:
        rule = RuleOfThumbCount(*gpus_needed(seed, gpu, spec if spec.has_shape else None))
        best = None
        if spec.has_shape and spec.breakdown:
            try:
                best = _plan(spec, request, [gpu], context, concurrency, (weights_format,), dtype or "auto").best
            except LlmmemError:
                best = None
        if best is None:
            columns.append(GpuColumn(gpu.name, None, None, None, None, rule))
            continue
        terms = _plan_terms(spec, request, gpu, best, context, concurrency, dtype)
        columns.append(GpuColumn(
            gpu.name, best.count, best.tp, best.pp, best.nodes, rule,
            kv_cache_tokens=best.kv_cache_tokens, max_concurrency=best.max_concurrency, max_context=best.max_context,
            weights_bytes_per_gpu=best.weights_bytes_per_gpu, command=best.command, **terms,
        ))
    return PrecisionRow(
        name=precision.name,
        label=precision.label,
        bits=precision.bits,
        weights_format=weights_format,
        weights_bytes=weights_bytes(spec.parameters, precision),
        seed_formula_bytes=seed,
        largest_layer_bytes=largest_layer_bytes(spec, precision),
        training_adam_bytes=training_adam_bytes(spec.parameters, precision),
        gpus=tuple(columns),
    )


def _plan_terms(spec, request: Request, gpu: GPU, best, context, concurrency, dtype) -> dict:
    """The engine's per-GPU terms at a plan's own configuration (its max-model-len / context, weights, KV dtype)."""
    length = best.max_context if context == MAX else context
    sequences = 1 if concurrency == MAX else concurrency
    options = serving_options(request, gpu, best.tp, best.pp, length, sequences, best.weights, best.kv_cache_dtype, dtype)
    options = replace(options, max_model_len=request.max_model_len if request.max_model_len and context != MAX else length, allow_long_context=True,
                      max_num_seqs=scheduler_seqs(request.engine, gpu, sequences, request.max_num_seqs))
    try:
        e = fitted_estimate(spec, options, request.max_num_seqs)
    except LlmmemError:
        return {}
    return {"kv_cache_bytes_per_gpu": e.kv_cache_bytes_per_gpu, "activation_bytes": e.activation_bytes,
            "non_torch_bytes": e.non_torch_bytes, "total_bytes_per_gpu": e.total_bytes_per_gpu, "fits": e.fits}


def estimate_request(request: Request, *, token: str | None = None, allow_local_files: bool = True,
                     prefer_catalog: bool = False) -> Report:
    """Answer one request: resolve the model, size every precision, plan, and estimate the best plan.
    prefer_catalog=True answers a catalog model (no pinned revision) from the bundled catalog, without the Hub."""
    resolved = _resolve(request, token, allow_local_files, prefer_catalog)
    spec = resolved.spec
    gpus = [get_gpu(name) for name in request.gpus]
    precisions = parse_precisions(list(request.precisions) if request.precisions else None)
    notes = list(resolved.notes) + _notes(spec)
    shaped = spec.has_shape and bool(spec.breakdown)
    flag = None if shaped else _serving_flag(request)
    if flag:
        raise InputError(f"{request.model!r} is only a parameter count: {flag} asks for a serving estimate, which needs the "
                         "model's config.json or ID (a count alone gives the table)")
    context = target_context(spec, request)
    concurrency = request.concurrency
    if shaped and context != MAX and not request.allow_long_context:
        for value, flag in ((context, "--context"), (request.max_model_len, "--max-model-len")):
            problem = context_problem(spec, value, flag) if value else None
            if problem:
                raise InputError(problem)
    if shaped and request.allow_long_context and context != MAX and spec.max_position_embeddings and context > spec.max_position_embeddings:
        notes.append(f"context {context:,} is beyond the model's {spec.max_position_embeddings:,} positions (allowed by "
                     "--allow-long-context, as VLLM_ALLOW_LONG_MAX_MODEL_LEN=1): outputs past the limit may be wrong")
    rows = [_precision_row(spec, p, gpus, request, context, concurrency) for p in precisions]
    stored = [r for r in rows if any(c.command for c in r.gpus) and needs_stored_checkpoint(spec, r.weights_format)]
    if stored:
        notes.append("the " + ", ".join(f"{r.name} ({r.weights_format})" for r in stored) + " rows' commands need a checkpoint "
                     f"stored in that format in place of the model named: {stored_checkpoint_words(spec)}")
    target = plan_result = serving = None
    if shaped:
        default = request.context is None and request.max_model_len is None and request.concurrency == 1 and request.engine == "vllm" and tuple(request.gpus) == DEFAULT_GPUS
        target = Target(request.engine, gpus[0].name, context, concurrency, default)
        plan_result = _plan(spec, request, [gpus[0]], context, concurrency, model=launch_name(resolved, request))
        # the best plan's command may need another checkpoint (--weights awq on a 16-bit repo): say so here too
        if plan_result.best is not None:
            notes += [n for n in plan_result.notes if n.startswith(f"weights {plan_result.best.weights}:")]
        serving = _serving(spec, request, gpus[0], plan_result, context, concurrency, notes)
        rows = _row_totals(spec, request, rows, serving, gpus[0])
    headline = _headline(spec, request, target, plan_result, rows, gpus)
    return Report(
        request=request,
        headline=headline,
        model=spec.name,
        source=resolved.source,
        model_type=spec.model_type,
        parameters=spec.parameters,
        active_parameters=spec.active_parameters,
        approximate=spec.approximate,
        counted_by=spec.counted_by,
        count_label=spec.count_label,
        parts=spec.part_totals,
        mtp={"layers": spec.mtp_layers, "parameters": spec.mtp_parameters} if spec.mtp_layers else None,
        revision=resolved.revision,
        checkpoint_dtypes=dict(resolved.safetensors) if resolved.safetensors else None,
        architecture={f: getattr(spec, f) for f in _ARCHITECTURE_FIELDS if getattr(spec, f) is not None} if spec.has_shape else None,
        target=target,
        gpus=tuple(GpuInfo(g.name, g.label, g.memory_bytes) for g in gpus),
        precisions=tuple(rows),
        plan=plan_result,
        serving=serving,
        notes=tuple(notes),
        training=_default_training(spec) if shaped else None,
    )


def _default_training(spec: ModelSpec) -> dict | None:
    """`python -m llmmem train MODEL`'s default answer, next to accelerate's rule in the table."""
    from .training import TrainingOptions, estimate_training

    if not spec.num_attention_heads:  # NOTE: attention-free models (pure Mamba) are outside training.py
        return None
    options = TrainingOptions()
    try:
        estimate = estimate_training(spec, options)
    except LlmmemError:
        return None
    return {"recipe": options.recipe, "optimizer": options.optimizer, "batch": options.batch, "seq_len": options.seq_len,
            "checkpointing": options.checkpointing, "peak_bytes": estimate.peak_bytes,
            "accelerate_training_bytes": estimate.accelerate_training_bytes}


# The request fields only a serving estimate answers, with the flag that sets each, in the order a message names them.
_SERVING_FLAGS = (
    ("--tp", "tp"), ("--pp", "pp"), ("--engine", "engine"), ("--context", "context"), ("--concurrency", "concurrency"),
    ("--max-model-len", "max_model_len"), ("--weights", "weights"), ("--kv-cache-dtype", "kv_cache_dtype"), ("--dtype", "dtype"),
    ("--gpu-memory-utilization", "gpu_memory_utilization"), ("--max-num-seqs", "max_num_seqs"),
    ("--max-num-batched-tokens", "max_num_batched_tokens"), ("--max-gpus", "max_gpus"), ("--allow-long-context", "allow_long_context"),
)


def _serving_flag(request: Request) -> str | None:
    """The first flag of the request that only a serving estimate answers (None: the table alone)."""
    defaults = Request.__dataclass_fields__
    return next((flag for flag, name in _SERVING_FLAGS if getattr(request, name) != defaults[name].default), None)


def _serving(spec, request: Request, gpu: GPU, plan_result: PlanResult, context, concurrency, notes: list) -> ServingEstimate | None:
    """The engine's estimate at the request's layout when it names one, else at the best plan's."""
    best = plan_result.best
    if request.layout_given:
        tp, pp = fixed_layout(request).values()
    elif best is not None:
        tp, pp = best.tp, best.pp
    else:
        notes.append(f"no serving estimate: {plan_result.notes[0] if plan_result.notes else 'nothing serves the target'}")
        return None
    length = context if context != MAX else (best.max_context if best is not None and best.max_context else spec.max_position_embeddings or 4096)
    sequences = concurrency if concurrency != MAX else 1
    weights = best.weights if best is not None and not request.layout_given else request.weights[0]
    kv = best.kv_cache_dtype if best is not None and not request.layout_given else request.kv_cache_dtype[0]
    options = serving_options(request, gpu, tp, pp, length, sequences, weights, kv)
    options = replace(options, max_num_seqs=scheduler_seqs(request.engine, gpu, sequences, request.max_num_seqs))
    return fitted_estimate(spec, options, request.max_num_seqs)


def _row_totals(spec, request: Request, rows: list[PrecisionRow], serving: ServingEstimate | None, gpu: GPU) -> list[PrecisionRow]:
    """Each row's serving total per GPU with the weights in that row's precision, at the serving layout."""
    if serving is None:
        return rows
    length = getattr(serving, "context", None) or getattr(serving, "max_model_len")
    out = []
    for row in rows:
        dtype, weights_format = ROW_SERVING[row.name]
        options = serving_options(request, gpu, serving.tp, serving.pp, length, getattr(serving, "batch", 1),
                                  weights_format, serving.kv_cache_dtype, dtype)
        if isinstance(serving, VllmEstimate):
            options = replace(options, max_num_seqs=serving.max_num_seqs)
        try:
            estimate = estimate_serving(spec, options)
        except LlmmemError:
            out.append(row)
            continue
        out.append(replace(row, serving_total_bytes=estimate.total_bytes_per_gpu, serving_fits=estimate.fits))
    return out


def _headline(spec, request: Request, target: Target | None, plan_result: PlanResult | None, rows, gpus) -> str:
    """One sentence: what serves the target, what its KV cache holds, and what a lower precision saves.
    The launch command is not in it (Report.plan has it, for the copy box and the CLI block)."""
    if target is None or plan_result is None:
        fp16 = next((r for r in rows if r.name == "fp16"), rows[0])
        rule = fp16.gpus[0].rule_of_thumb
        return (f"{spec.parameters:,} parameters at {fp16.label}: {rule.count} x {gpus[0].name} by the rule of thumb "
                f"(give a config.json or model ID for a serving plan)")
    best = plan_result.best
    if target.concurrency == MAX and target.context != MAX:
        what = f"as many {target.context:,}-token sequences as fit"
    else:
        what = target_words(target.context, target.concurrency).replace("sequence(s)", "sequence" if target.concurrency == 1 else "sequences")
    engine = "" if target.engine == "vllm" else f" with {target.engine}"
    if best is None:
        why = next((n for n in plan_result.notes if n.startswith("nothing serves")), plan_result.notes[-1])
        return f"{spec.name}{engine} on {target.gpu}, {what}: {why}"
    layout = " x ".join(part for part in (f"tensor parallel {best.tp}" if best.tp > 1 else "",
                                          f"pipeline parallel {best.pp}" if best.pp > 1 else "") if part)
    layout = ", ".join(part for part in (layout, f"{best.nodes} nodes of 8" if best.nodes > 1 else "") if part)
    gpus_words = f"{best.count} x {best.gpu}" + (f" ({layout})" if layout else "")
    verb = "serves" if best.count == 1 else "serve"
    if spec.caches_nothing:
        holds = "with no KV cache (encoder-only)"
    elif target.context == MAX:
        holds = f"with KV cache for {best.kv_cache_tokens:,} tokens: the longest context is {best.max_context:,} tokens"
    else:
        holds = f"with KV cache for {best.kv_cache_tokens:,} tokens ({best.max_concurrency:g} such sequences)"
    sentence = f"{spec.name} at {_weights_words(best.weights)}{engine}: {gpus_words} {verb} {what}, {holds}"
    inverse = MAX in (target.context, target.concurrency)  # "the same" has no meaning for an inverse question
    return sentence + ("" if inverse else _fewer_gpus_clause(rows, best)) + "."


def _weights_words(weights: str) -> str:
    return {"fp16": "16-bit", "fp32": "32-bit"}.get(weights, weights)


def _fewer_gpus_clause(rows, best) -> str:
    """'; at 4-bit, 1 x H100-80GB serves the same': the fewest GPUs a lower-precision row's plan needs, when fewer."""
    from .quantization import get_format

    bits = int(get_format(best.weights).bytes_per_parameter * 8)  # fp8-block 8, mxfp4 4, fp16 16
    lower = [(r.gpus[0].count, -r.bits, r) for r in rows if r.bits < bits and r.gpus and r.gpus[0].count is not None]
    if not lower:
        return ""
    count, _, row = min(lower, key=lambda item: item[:2])
    if count >= best.count:
        return ""
    return f"; at {row.bits}-bit, {count} x {row.gpus[0].gpu} {'serves' if count == 1 else 'serve'} the same"


def _notes(spec) -> list[str]:
    notes = list(spec.notes)  # what the count includes or leaves out (MTP layers, towers, which path counted it)
    if spec.approximate and not spec.notes:
        notes.append(f"approximate: {spec.model_type!r} is not a family llmmem knows exactly; a generic decoder formula was used")
    if not spec.has_shape:
        notes.append("only a parameter count is known: largest layer, KV cache, plans and tensor-parallel head checks need a config")
    return notes


# ---------------------------------------------------------------------------------------------
# text


def format_bytes(value: int | None, unit: str = "GB") -> str:
    if value is None:
        return "n/a"
    return f"{value / UNITS[unit]:,.2f} {unit}"


def unit_line(unit: str) -> str:
    return f"{unit} = {'10^9' if unit == 'GB' else '2^30'} bytes."


def format_count(value: int | None) -> str:
    """8030261248 -> '8.03B' (for people; the JSON keeps the exact int)."""
    if value is None:
        return "n/a"
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= scale:
            return f"{value / scale:,.2f}{suffix}"
    return str(value)


def _count_cell(count: dict) -> str:
    if count["count"] is None:
        return "n/a"
    layout = f"tp {count['tp']}" + (f" pp {count['pp']}" if count["pp"] > 1 else "")
    nodes = f", {count['nodes']} nodes" if count["nodes"] > 1 else ""
    return f"{count['count']} ({layout}{nodes})"


def table_rows(report: dict, unit: str = "GB") -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the precision table, every figure labelled with its unit. Per GPU: the
    planner's count for serving the target with the row's weights, and the rule of thumb's count."""
    headers = ["precision", "weights", "rule of thumb x1.2", "largest layer", "training (Adam)"]
    for g in report["gpus"]:
        headers += [f"{g['gpu']} plan", f"{g['gpu']} rule of thumb"]
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
            rule = count["rule_of_thumb"]
            cells.append(_count_cell(count))
            cells.append(f"{rule['count']} / {rule['tp_count']}" + (f" ({rule['nodes']} nodes)" if rule["nodes"] > 1 else ""))
        rows.append(cells)
    return headers, rows


_COUNT_TAGS = {"transformers": ", counted by transformers", "generic": ", approximate"}


def aligned(headers: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> list[str]:
    """A plain-text table: header, dashes, rows; columns in `left` flush left, the rest (numbers) right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_table(report: dict, unit: str = "GB") -> str:
    headers, rows = table_rows(report, unit)
    active = f", {format_count(report['active_parameters'])} active" if report["active_parameters"] else ""
    lines = [
        f"{report['model']}: {report['parameters']:,} parameters ({format_count(report['parameters'])}{active})"
        f" [{report['source']}{_COUNT_TAGS.get(report.get('counted_by') or '', ', approximate' if report['approximate'] else '')}]",
        *count_lines(report),
        "",
        *aligned(headers, rows),
    ]
    lines.append("plan: GPUs the planner needs to serve the target with the row's weights; rule of thumb: "
                 "ceil(rule-of-thumb bytes / GPU memory) / GPUs a tensor-parallel layout of it uses")
    lines.append("training (Adam): accelerate's figure, weights + gradients + two Adam states at the row's precision")
    training = report.get("training")
    if training:
        lines.append(f"fine-tuning as transformers runs it ({training['recipe']} 16-bit, {training['optimizer']}, batch "
                     f"{training['batch']} x {training['seq_len']:,} tokens, no checkpointing): "
                     f"{format_bytes(training['peak_bytes'], unit)} peak in one process; `python -m llmmem train MODEL` for other recipes and shards")
    if report.get("plan") is not None:
        lines += ["", f"answer: {report['headline']}", "", *format_plan(report, unit)]
    if report.get("serving"):
        lines += ["", *format_serving(report["serving"], unit)]
    gpus = ", ".join(f"{g['gpu']} = {format_bytes(g['memory_bytes'], unit)}" for g in report["gpus"])
    lines += ["", f"GPU memory as CUDA reports it: {gpus}.", unit_line(unit)]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def count_lines(report: dict) -> list[str]:
    """Which path counted the model and its parts (multimodal: text / vision / projector); what the count
    leaves out is in the notes (spec.notes)."""
    parts = report["parts"]
    split = ", ".join(f"{name} {count:,} ({format_count(count)})" for name, count in parts.items()) if len(parts) > 1 else ""
    return [f"counted: {report['count_label']}" + (f"; parts: {split}" if split else "")]


def format_plan(report: dict, unit: str = "GB") -> list[str]:
    """The planner's best configuration for the report's target, with its launch command."""
    target, result = report["target"], report["plan"]
    stated = f" ({DEFAULT_TARGET_TEXT})" if target["default"] else ""
    head = f"Best plan on {target['gpu']} for {target_words(target['context'], target['concurrency'])} with {target['engine']}{stated}:"
    if not result["plans"]:
        return [head, f"  {result['notes'][0]}"]
    best = result["plans"][0]
    price = f", ${best['usd_per_hour']:,.2f}/h" if best["usd_per_hour"] is not None else ""
    return [
        head,
        f"  {best['count']} x {best['gpu']}: tp {best['tp']}, pp {best['pp']}, {best['nodes']} node(s){price}; "
        f"weights {best['weights']}, {format_bytes(best['weights_bytes_per_gpu'], unit)} per GPU; KV cache {best['kv_cache_dtype']}",
        f"  KV cache holds {best['kv_cache_tokens']:,} tokens: {capacity_words(best, target['context'], target['concurrency'])}"
        if best["kv_cache_tokens"] else f"  no KV cache (encoder-only): max concurrency {best['max_concurrency']:g} (the scheduler's cap), "
        f"max context {best['max_context']:,} tokens (the model's positions)",
        f"  {best['command']}",
    ]


def target_words(context, concurrency) -> str:
    """'4 sequence(s) of 8,192 tokens', 'as many sequences as fit of 8,192 tokens', '1 sequence(s) of the longest context that fits'."""
    sequences = "as many sequences as fit" if concurrency == MAX else f"{concurrency:,} sequence(s)"
    length = "the longest context that fits" if context == MAX else f"{context:,} tokens"
    return f"{sequences} of {length}"


def capacity_words(plan: dict, context, concurrency) -> str:
    length = plan["max_context"] if context == MAX else context
    sequences = 1 if concurrency == MAX else concurrency
    return (f"max concurrency {plan['max_concurrency']:g} at {length:,} tokens, "
            f"max context {plan['max_context']:,} tokens at {sequences:,} sequence(s)")


def format_serving(serving: dict, unit: str = "GB") -> list[str]:
    """The serving estimate as a short block: each term per GPU, the total, and what fits."""
    size = lambda key: format_bytes(serving[key], unit).rjust(14)  # noqa: E731
    if serving["engine"] == "vllm":
        head = (f"vLLM on {serving['gpu']}: tp {serving['tp']}, pp {serving['pp']}, gpu_memory_utilization "
                f"{serving['gpu_memory_utilization']}, max_model_len {serving['max_model_len']:,}, "
                f"weights {serving['weights_format']}, KV cache {serving['kv_cache_dtype']}")
        context = serving["max_model_len"]
        kv_label = "available KV cache memory"
        verdict = "starts" if serving["starts"] else f"does not start ({serving['failure']['check']})"
    else:
        head = (f"serving on {serving['gpu']} ({serving['engine']} estimate): tp {serving['tp']}, pp {serving['pp']}, "
                f"weights {serving['weights_format']}, KV cache {serving['kv_cache_dtype']}, "
                f"context {serving['context']:,} x {serving['batch']} sequence(s)")
        context = serving["context"]
        kv_label = "KV cache"
        verdict = "fits" if serving["fits"] else "does not fit: try more GPUs (tp/pp), a smaller precision or context"
    lines = [
        head,
        f"  weights per GPU            {size('weights_bytes_per_gpu')}",
        f"  {kv_label:<27}{size('kv_cache_bytes_per_gpu')}  ({serving['kv_cache_bytes_per_token']:,} bytes per token)",
        f"  activations                {size('activation_bytes')}",
        f"  runtime (non-torch)        {size('non_torch_bytes')}",
        # NOTE: vLLM's total is its budget (utilization x memory) plus the CUDA context created before it.
        *([f"  CUDA context               {size('cuda_context_bytes')}  (outside the gpu_memory_utilization budget)"]
          if serving["engine"] == "vllm" and serving.get("cuda_context_bytes") else []),
        f"  total per GPU              {size('total_bytes_per_gpu')}  of {format_bytes(serving['gpu_memory_bytes'], unit)}: {verdict}",
        f"  KV cache holds {serving['kv_cache_tokens']:,} tokens: max concurrency {serving['max_concurrency']:,}"
        f" at {context:,} tokens per sequence",
    ]
    if serving.get("state_bytes_per_sequence"):
        state_layers = sum(k["layers"] for k in serving.get("cache_layers", ()) if k["state_bytes_per_layer"])
        lines.insert(3, f"  fixed state per sequence   {format_bytes(serving['state_bytes_per_sequence'], unit).rjust(14)}"
                        f"  (conv + SSM state of {state_layers} layers, whatever the length)")
        if not serving["kv_cache_bytes_per_token"]:
            # NOTE: attention-free: nothing grows with length; vLLM logs state blocks x max_model_len as tokens.
            lines[-1] += (" (no attention: vLLM counts one state block per sequence as max_model_len tokens)"
                          if serving["engine"] == "vllm" else " (no attention: only sequences cost memory, not tokens)")
    elif not serving["kv_cache_bytes_per_token"]:
        lines[-1] = (f"  no KV cache (encoder-only): nothing is kept per token or per sequence, so the "
                     f"{kv_label} above stays unused; each request is one forward pass")
    if serving.get("kv_cache_groups") and len(serving["kv_cache_groups"]) > 1 or serving.get("state_page_padding_bytes"):
        lines.append(f"  hybrid KV allocator: blocks of {serving['kv_cache_block_size']:,} tokens, "
                     f"{sum(serving['kv_cache_groups'].values())} groups of {serving['kv_cache_group_size']} layers "
                     f"({', '.join(f'{n} {kind}' for kind, n in serving['kv_cache_groups'].items())}); the tokens it holds "
                     f"are blocks / {sum(serving['kv_cache_groups'].values())} groups x {serving['kv_cache_block_size']:,}, "
                     "as vLLM logs them, while each sequence takes blocks in every group")
    if serving.get("failure"):
        lines.append(f"  vLLM would stop with: {serving['failure']['message']}")
    return lines


def plan_request(request: Request, *, token: str | None = None, allow_local_files: bool = True,
                 prefer_catalog: bool = False) -> PlanResult:
    """`python -m llmmem plan`: the planner over every GPU the request names, for its target."""
    resolved = _resolve(request, token, allow_local_files, prefer_catalog)
    spec = resolved.spec
    if not spec.has_shape or not spec.breakdown:
        raise InputError(f"{request.model!r} is only a parameter count: a plan needs the model's config.json or ID")
    return _plan(spec, request, [get_gpu(name) for name in request.gpus], target_context(spec, request), request.concurrency,
                 model=launch_name(resolved, request))


def format_plans(result: dict, unit: str = "GB", limit: int = 15) -> str:
    """The plan list as a table, best first, with the best plan's launch command below it."""
    lines = [f"{result['model']} ({result['parameters']:,} parameters) with {result['engine']}: "
             f"{target_words(result['context'], result['concurrency'])}"]
    plans = result["plans"]
    if plans:
        headers = ["#", "GPUs", "tp", "pp", "nodes", "weights", "KV", "weights/GPU", "KV tokens", "max conc.", "max context", "$/h"]
        rows = [[str(i + 1), f"{p['count']} x {p['gpu']}", str(p["tp"]), str(p["pp"]), str(p["nodes"]), p["weights"],
                 p["kv_cache_dtype"], format_bytes(p["weights_bytes_per_gpu"], unit), f"{p['kv_cache_tokens']:,}",
                 f"{p['max_concurrency']:g}", f"{p['max_context']:,}",
                 "n/a" if p["usd_per_hour"] is None else f"{p['usd_per_hour']:,.2f}"] for i, p in enumerate(plans[:limit])]
        lines += ["", *aligned(headers, rows, left=(1, 5, 6))]
        if len(plans) > limit:
            lines.append(f"... {len(plans) - limit} more (--json lists them all)")
        lines += ["", "best plan:", f"  {plans[0]['command']}"]
    lines += [""] + [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines)
