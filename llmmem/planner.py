"""The serving planner: which GPUs, how many, which parallel layout, for a target.

Searches GPU type x GPU count x tensor parallel x pipeline parallel (x weights format x KV-cache dtype
when more than one is allowed) with the engine's own estimate, keeps the configurations that serve
the target (at least `concurrency` sequences of `context` tokens), and ranks them: priced plans by cost
per hour, then unpriced ones by GPU count; then fewer pipeline stages (tensor parallel inside a node, as
vLLM advises), then headroom (sequences held beyond the target). Engines that run on one GPU
(transformers) get one-GPU plans.

Beyond one node a plan uses whole nodes of GPUS_PER_NODE GPUs: multi-node clusters are rented by the
node, and without it the fewest GPUs is a deep pipeline of single GPUs (31 x H100 at pp 31 for a 1T model)
where one more GPU gives tp 8 x pp 4. A layout fixed by both --tp and --pp is answered as given.

Inverse questions: context="max" asks for the longest context (capped at the model's maximum)
`concurrency` sequences can have; concurrency="max" for the most sequences of `context` tokens (capped
at max_num_seqs, the most vLLM schedules at once). Each is asked of the fewest GPUs of each type that
serve one such sequence (more GPUs always hold more, so "the most" only has a meaning for a setup:
climbing to the cap sized 64 x H100 for the most 8k sequences of a 13B model); ask a number
(--context N, --concurrency N) to size for more. Plans then rank by that answer first, then cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from .engines import engine_function, estimate_serving
from .engines.generic import DEFAULT_MAX_SEQS, GenericEstimate  # NOTE: also the cap of concurrency="max"
from .engines.transformers import check_modelled
from .engines.vllm import VllmEstimate, estimate_kv_config, vllm_defaults
from .errors import InputError
from .gpus import GPU, GPUS, GPUS_PER_NODE, nodes_for, valid_tp
from .results import Result
from .serving import ServingOptions, activation_dtype_bytes, context_problem, weight_format, weights_terms
from .spec import ModelSpec

MAX = "max"
MAX_TP = GPUS_PER_NODE  # tensor parallelism stays inside one node; pipeline stages span nodes
PLANS_PER_SETUP = 3  # inverse questions: layouts kept per GPU x weights x KV dtype

# NOTE: `vllm serve --quantization` values for each weights format. fp8 quantizes a 16-bit checkpoint
# on the fly; the others name a checkpoint already stored in that format (vLLM reads its config).
QUANTIZATION_FLAGS = {
    "fp8": "fp8", "fp8-block": "fp8", "fp8-dynamic": "compressed-tensors", "w8a8": "compressed-tensors",
    "w4a16": "gptq_marlin", "gptq": "gptq", "awq": "awq", "bnb-nf4": "bitsandbytes",
    "bnb-nf4-single": "bitsandbytes", "mxfp4": "mxfp4",
}

# NOTE: vLLM quantizes a 16-bit checkpoint on load only to fp8 (Fp8Config) and bitsandbytes (in-flight);
# every other format needs a checkpoint stored in it, else start-up stops (AWQ/GPTQ: "Cannot find the
# config file for awq").
QUANTIZED_ON_LOAD = frozenset({"fp8", "fp8-block", "bnb-nf4", "bnb-nf4-single"})


# Formats vLLM treats as one (a checkpoint in one serves with -q of another: gptq -> gptq_marlin, ...).
_FAMILIES = {"fp8": "fp8", "fp8-block": "fp8", "fp8-dynamic": "fp8", "w8a8": "int8", "w4a16": "gptq", "gptq": "gptq",
             "awq": "awq", "bnb-nf4": "bnb", "bnb-nf4-single": "bnb", "mxfp4": "mxfp4"}


def checkpoint_format(spec: ModelSpec) -> str | None:
    """The format the checkpoint is stored in (its quantization_config), None for 16-bit weights."""
    from .quantization import format_from_quantization_config

    try:
        own = format_from_quantization_config(spec.quantization)
    except InputError:
        return None
    return own.name if own else None


def needs_stored_checkpoint(spec: ModelSpec, weights: str) -> bool:
    """True when serving `weights` needs another checkpoint than `spec`'s: vLLM quantizes 16-bit weights on
    load only to fp8 and bitsandbytes, and serves a quantized checkpoint in its own format only."""
    own = checkpoint_format(spec)
    if weights == "auto":
        return False
    if own is None:
        return weights not in ("fp16", "fp32") and weights not in QUANTIZED_ON_LOAD
    return _FAMILIES.get(weights) != _FAMILIES.get(own)


def stored_checkpoint_words(spec: ModelSpec) -> str:
    """Why another checkpoint is needed, for notes."""
    own = checkpoint_format(spec)
    if own is None:
        return "vLLM quantizes 16-bit weights on load only to fp8 and bitsandbytes"
    return f"this checkpoint is stored in {own}, which vLLM serves as it is (no dequantizing or re-quantizing on load)"


@dataclass(frozen=True)
class Plan(Result):
    gpu: str
    count: int
    tp: int
    pp: int
    nodes: int
    weights: str
    kv_cache_dtype: str
    kv_cache_tokens: int
    max_concurrency: float
    max_context: int
    weights_bytes_per_gpu: int
    usd_per_hour: float | None
    command: str


@dataclass(frozen=True)
class PlanResult(Result):
    model: str
    parameters: int
    engine: str
    context: int | str
    concurrency: int | str
    plans: tuple[Plan, ...]
    notes: tuple[str, ...]

    @property
    def best(self) -> Plan | None:
        return self.plans[0] if self.plans else None


@dataclass(frozen=True)
class _Candidate:
    plan: Plan
    serves: bool


def vllm_command(
    model: str,
    *,
    tp: int = 1,
    pp: int = 1,
    max_model_len: int | None = None,
    weights: str = "auto",
    kv_cache_dtype: str = "auto",
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    extra: Iterable[str] = (),
) -> str:
    """The `vllm serve` line for a configuration (flags at vLLM's defaults are left out)."""
    parts = ["vllm", "serve", model]
    if tp != 1:
        parts += ["--tensor-parallel-size", str(tp)]
    if pp != 1:
        parts += ["--pipeline-parallel-size", str(pp)]
    if max_model_len is not None:
        parts += ["--max-model-len", str(max_model_len)]
    if weights not in ("auto", "fp16", "fp32"):
        parts += ["--quantization", QUANTIZATION_FLAGS.get(weights, weights)]
    if weights == "fp32" and dtype == "auto":
        dtype = "float32"
    if dtype != "auto":
        parts += ["--dtype", dtype]
    if kv_cache_dtype != "auto":
        parts += ["--kv-cache-dtype", kv_cache_dtype]
    if gpu_memory_utilization != 0.9:
        parts += ["--gpu-memory-utilization", f"{gpu_memory_utilization:g}"]
    if max_num_seqs is not None:
        parts += ["--max-num-seqs", str(max_num_seqs)]
    if max_num_batched_tokens is not None:
        parts += ["--max-num-batched-tokens", str(max_num_batched_tokens)]
    parts += list(extra)
    return " ".join(parts)


# Engines that run a model on one GPU (no tensor or pipeline parallelism).
SINGLE_GPU_ENGINES = frozenset({"transformers"})


def transformers_command(model: str, dtype: str = "auto") -> str:
    """How transformers loads the model the transformers engine sizes (transformers 5: `dtype=`)."""
    return f'AutoModelForCausalLM.from_pretrained("{model}", dtype="{dtype}", device_map="cuda")'


def scheduler_seqs(engine: str, gpu: GPU, sequences: int, max_num_seqs: int | None) -> int | None:
    """--max-num-seqs a plan must set: vLLM schedules at most max_num_seqs sequences at once, so a target
    above its per-GPU default raises it to the target (None: the default stands)."""
    if engine == "vllm" and max_num_seqs is None and sequences > vllm_defaults(gpu.memory_bytes, gpu.name)[1]:
        return sequences
    return max_num_seqs


def options_default_seqs(gpu: GPU) -> int:
    """vLLM's default --max-num-seqs on `gpu`."""
    return vllm_defaults(gpu.memory_bytes, gpu.name)[1]


def fitted_estimate(spec: ModelSpec, options: ServingOptions, max_num_seqs: int | None, function=None):
    """The engine's estimate at `options`; for vLLM hybrids whose state blocks are fewer than the scheduler's
    max_num_seqs (vLLM stops: "max_num_seqs (1024) exceeds available Mamba cache blocks"), the estimate at
    --max-num-seqs lowered to the blocks there are, unless the user set max_num_seqs. The planner, the
    report's serving block and its table all size a plan with this, so they agree."""
    function = function or estimate_serving
    estimate = function(spec, options)
    if (isinstance(estimate, VllmEstimate) and max_num_seqs is None and estimate.failure
            and estimate.failure["check"] == "mamba_cache_blocks" and estimate.num_blocks >= options.batch):
        # NOTE: hybrids: vLLM refuses more sequences than state blocks; the plan lowers --max-num-seqs to fit.
        estimate = function(spec, replace(options, max_num_seqs=estimate.num_blocks))
    return estimate


def layouts(spec: ModelSpec, count: int, tp: int | None = None, pp: int | None = None) -> list[tuple[int, int]]:
    """(tp, pp) pairs using exactly `count` GPUs that vLLM accepts: tp splits the attention heads and
    the KV heads split or replicate evenly (gpus.valid_tp), tp within one node, pp at most the layers."""
    out = []
    for size in range(min(count, MAX_TP), 0, -1):
        stages = count // size
        if count % size or not valid_tp(size, spec) or stages > (spec.num_layers or 1):
            continue
        if (tp is not None and size != tp) or (pp is not None and stages != pp):
            continue
        out.append((size, stages))
    return out


def _weights_total(spec: ModelSpec, weights: str, dtype: str) -> int:
    """All weights bytes in a format (no split): divided by the GPU count, a lower bound per GPU."""
    dtype_bytes = activation_dtype_bytes(spec, None if dtype == "auto" else dtype)
    fmt = weight_format(spec, None if weights == "auto" else weights, dtype_bytes)
    return sum(weights_terms(spec, fmt, dtype_bytes).values())


def price_of(gpu: GPU, prices: Mapping[str, float]) -> float | None:
    return prices.get(gpu.name, gpu.usd_per_hour)


def plan(
    spec: ModelSpec,
    *,
    model: str | None = None,
    engine: str = "vllm",
    gpus: Iterable[GPU] | None = None,
    context: int | str | None = None,
    concurrency: int | str = 1,
    max_gpus: int = 64,
    weights: Iterable[str] = ("auto",),
    kv_cache_dtypes: Iterable[str] = ("auto",),
    prices: Mapping[str, float] | None = None,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    max_num_batched_tokens: int | None = None,
    max_num_seqs: int | None = None,
    allow_long_context: bool = False,
    tp: int | None = None,
    pp: int | None = None,
    max_model_len: int | None = None,
) -> PlanResult:
    """Every configuration that serves the target, best first (see the module's docstring)."""
    if not spec.has_shape or not spec.breakdown:
        raise InputError(f"{spec.name}: planning needs the model's config.json or Hub ID, not a bare count")
    function = engine_function(engine)
    engine = engine.strip().lower()
    if engine == "transformers":
        check_modelled(spec)  # NOTE: refused whatever the layout: say why, not "nothing serves the target"
    model = model or spec.name
    gpu_list = list(gpus) if gpus is not None else list(GPUS)
    prices = dict(prices or {})
    model_max = spec.max_position_embeddings or 4096
    if context is None:
        context = min(8192, model_max)
    if context != MAX:
        problem = context_problem(spec, int(context), "--context")
        if problem and not allow_long_context:
            raise InputError(problem)
    if max_model_len is not None and context != MAX and max_model_len < int(context):
        raise InputError(f"max_model_len {max_model_len:,} is shorter than context {int(context):,}: raise --max-model-len or lower --context")
    context_cap = model_max if context == MAX else max(model_max, int(context))
    if max_model_len is not None:
        context_cap = max_model_len if context == MAX else min(context_cap, max_model_len)  # vLLM serves no longer sequence
    target_context = context_cap if context == MAX else int(context)
    # NOTE: vLLM checks one sequence of max_model_len at start-up, so a longer --max-model-len than the
    # target's context is what the engine is sized and launched with.
    engine_len = max(target_context, max_model_len or 0)
    target_sequences = 1 if concurrency == MAX else int(concurrency)
    sequence_cap = max_num_seqs or DEFAULT_MAX_SEQS
    inverse = context == MAX or concurrency == MAX
    notes: list[str] = []
    most = 1 if engine in SINGLE_GPU_ENGINES else max_gpus
    if engine in SINGLE_GPU_ENGINES:
        notes.append(f"the {engine} engine runs the model on one GPU (model(...) or generate()): every plan is one GPU; "
                     "--engine vllm splits a model over several")
    no_cache = spec.caches_nothing

    def evaluate(gpu: GPU, size: int, stages: int, fmt: str, kv: str) -> _Candidate | None:
        seqs = scheduler_seqs(engine, gpu, target_sequences, max_num_seqs)
        options = ServingOptions(
            gpu=gpu, engine=engine, tp=size, pp=stages, dtype=None if dtype == "auto" else dtype,
            quantization=None if fmt == "auto" else fmt, kv_cache_dtype=kv, context=target_context,
            batch=target_sequences, gpu_memory_utilization=gpu_memory_utilization,
            max_num_batched_tokens=max_num_batched_tokens, max_num_seqs=seqs, max_model_len=engine_len,
            allow_long_context=True,
        )
        try:
            estimate = fitted_estimate(spec, options, max_num_seqs, function)
        except InputError:
            return None
        if isinstance(estimate, VllmEstimate) and seqs is None and estimate.max_num_seqs != options_default_seqs(gpu):
            seqs = estimate.max_num_seqs  # lowered by fitted_estimate: the command must say so
        if no_cache:
            # NOTE: nothing is cached (encoder-only): no sequence holds memory beyond one batch's activations,
            # so the scheduler's cap bounds concurrency and the position table bounds the context.
            reach, length = context_cap, (context_cap if context == MAX else target_context)
            serves = bool(getattr(estimate, "starts", None) if isinstance(estimate, VllmEstimate) else estimate.fits)
            held = float(estimate.max_num_seqs if isinstance(estimate, VllmEstimate) else sequence_cap)
            command_seqs = seqs if isinstance(estimate, VllmEstimate) else None
        elif isinstance(estimate, VllmEstimate):
            kv_config = estimate_kv_config(spec, estimate)
            reach = kv_config.longest_context_for(spec, estimate.num_blocks, target_sequences, context_cap, estimate.max_num_batched_tokens)
            if context == MAX:
                # NOTE: sized at the model's maximum, the max-seq-len check may fail; the plan's own
                # --max-model-len is `reach`, which the pool holds, so only the other checks count.
                failure = estimate.failure
                serves = reach >= 1 and (failure is None or failure["check"] == "max_seq_len")
            length = reach if context == MAX else target_context
            need = kv_config.blocks_per_request(spec, length or 1, estimate.max_num_batched_tokens)
            if context != MAX:
                serves = estimate.starts and estimate.num_blocks >= target_sequences * need
            held = round(estimate.num_blocks / need, 2)  # sequences of `length` tokens, as vLLM logs it
            command_seqs = seqs
        elif isinstance(estimate, GenericEstimate):
            reach = estimate.max_context
            serves = reach >= 1 if context == MAX else estimate.fits
            length = reach if context == MAX else target_context
            held = estimate.max_concurrency
            command_seqs = None
        else:  # another engine: its own fits and concurrency
            reach = getattr(estimate, "max_context", target_context)
            serves = bool(estimate.fits)
            length, held, command_seqs = target_context, estimate.max_concurrency, None
        count = size * stages
        usd = price_of(gpu, prices)
        if engine in SINGLE_GPU_ENGINES:
            command = transformers_command(model, dtype if fmt != "fp32" else "float32")
        else:
            command = vllm_command(
                model, tp=size, pp=stages, max_model_len=(length if context == MAX else engine_len) or None, weights=fmt,
                kv_cache_dtype=kv, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization, max_num_seqs=command_seqs,
                max_num_batched_tokens=max_num_batched_tokens,
            )
        return _Candidate(
            Plan(
                gpu=gpu.name, count=count, tp=size, pp=stages, nodes=nodes_for(count),
                weights=estimate.weights_format if fmt == "auto" else fmt, kv_cache_dtype=kv,
                kv_cache_tokens=estimate.kv_cache_tokens, max_concurrency=held, max_context=reach,
                weights_bytes_per_gpu=estimate.weights_bytes_per_gpu,
                usd_per_hour=None if usd is None else round(usd * count, 4), command=command,
            ),
            serves,
        )

    def answer(p: Plan) -> float:
        if context == MAX:
            return min(p.max_context, context_cap)
        if concurrency == MAX:
            return min(math.floor(p.max_concurrency), sequence_cap)
        return 0

    found: list[Plan] = []
    weights = tuple(weights) or ("auto",)
    kv_dtypes = tuple(kv_cache_dtypes) or ("auto",)
    usable_share = gpu_memory_utilization if engine == "vllm" else 1.0
    for fmt in weights:
        try:
            total = _weights_total(spec, fmt, dtype)
        except InputError as exc:
            notes.append(f"weights {fmt}: {exc}")
            continue
        for gpu in gpu_list:
            usable = gpu.memory_bytes * usable_share
            for kv in kv_dtypes:
                kept: list[Plan] = []
                for count in range(max(1, math.ceil(total / usable)), most + 1):
                    if count > GPUS_PER_NODE and count % GPUS_PER_NODE and (tp is None or pp is None):
                        continue  # beyond one node, whole nodes (see whole_nodes_only)
                    serving = [c.plan for c in (evaluate(gpu, t, p, fmt, kv) for t, p in layouts(spec, count, tp, pp)) if c and c.serves]
                    if not serving:
                        continue
                    kept += serving
                    break  # the fewest GPUs that serve (inverse questions too: see the module's docstring)
                if inverse:
                    kept = sorted(kept, key=lambda p: (-answer(p), p.count, -p.max_concurrency))[:PLANS_PER_SETUP]
                found += kept

    some_priced = any(p.usd_per_hour is not None for p in found)

    def rank(p: Plan) -> tuple:
        # NOTE: priced plans first, by cost: an unpriced GPU must not win by count alone (192 GB MI300X
        # would top every whole-catalog plan); unpriced plans follow by count.
        unpriced = p.usd_per_hour is None
        cost = p.count if unpriced else p.usd_per_hour
        # NOTE: fewer pipeline stages first: vLLM's guidance is tensor parallelism inside a node and
        # pipeline stages across nodes (a pipeline inside a node holds more KV but adds latency).
        return (-answer(p), unpriced, cost, p.count, p.pp, -p.max_concurrency, -p.kv_cache_tokens)

    found.sort(key=rank)
    if found:
        unpriced = ", ".join(sorted({p.gpu for p in found if p.usd_per_hour is None}))
        if not unpriced:
            notes.append("ranked by cost per hour (catalog prices or --price), then GPU count, fewer pipeline stages, headroom")
        elif some_priced:
            notes.append("ranked by cost per hour (catalog prices or --price), then GPU count, fewer pipeline stages, headroom; "
                         f"GPUs without a price follow, by GPU count: {unpriced} (give --price GPU=USD_PER_HOUR)")
        else:
            notes.append(f"ranked by GPU count, fewer pipeline stages, then headroom: no price for {unpriced} (give --price GPU=USD_PER_HOUR)")
        if any(p.nodes > 1 for p in found):
            notes.append(f"multi-node plans: whole nodes of {GPUS_PER_NODE} GPUs, tensor parallel inside a node, pipeline stages across nodes")
    else:
        notes.append(_why_nothing(spec, gpu_list, most, target_context, target_sequences, weights, tp, pp, usable_share,
                                  "use --engine vllm to split it over several GPUs" if engine in SINGLE_GPU_ENGINES else None))
    for fmt in weights:
        if any(p.weights == fmt for p in found) and needs_stored_checkpoint(spec, fmt):
            notes.append(f"weights {fmt}: replace {model} in the command by a checkpoint stored in {fmt}: "
                         f"{stored_checkpoint_words(spec)}")
    if no_cache:
        notes.append("no KV cache (encoder-only: each request is one forward pass): max concurrency is the scheduler's "
                     "max_num_seqs and max context the position table; memory left after the activations stays unused")
    if context == MAX:
        notes.append(f"context=max: the longest context {target_sequences} sequence(s) can have on the fewest GPUs that serve one, "
                     f"capped at {context_cap:,}; give --context N to size for a longer one")
    if concurrency == MAX:
        notes.append(f"concurrency=max: the most sequences of {target_context:,} tokens on the fewest GPUs that serve one, "
                     f"capped at max_num_seqs {sequence_cap:,}; give --concurrency N to size for more")
    return PlanResult(
        model=model, parameters=spec.parameters, engine=engine, context=context, concurrency=concurrency,
        plans=tuple(found), notes=tuple(notes),
    )


def _why_nothing(spec, gpus, max_gpus, context, sequences, weights, tp, pp, usable_share, widen_with: str | None = None) -> str:
    """What stops every configuration: the weights alone, a layout constraint, or the KV cache."""
    fixed = tp is not None or pp is not None
    scope = f"at tp {tp or 'any'}, pp {pp or 'any'}" if fixed else f"within {max_gpus} GPU{'s' if max_gpus != 1 else ''}"
    widen = widen_with or ("drop --tp/--pp to let the planner choose" if fixed else "raise --max-gpus")
    largest = max(gpus, key=lambda g: g.memory_bytes)
    most = min(max_gpus, (tp or 1) * (pp or 1)) if tp is not None and pp is not None else max_gpus
    try:
        total = min(_weights_total(spec, fmt, "auto") for fmt in weights)
    except InputError:
        total = 0
    if total > largest.memory_bytes * usable_share * most:
        return (f"nothing serves the target {scope}: the weights alone ({total / 1e9:,.1f} GB) exceed what "
                f"{most} x {largest.name} hold; {widen}" + ("" if widen_with else " or use smaller weights (--weights fp8, awq, ...)"))
    if fixed and not any(layouts(spec, n, tp, pp) for n in range(1, max_gpus + 1)):
        return f"nothing serves the target: no layout within {max_gpus} GPUs has tp={tp}, pp={pp} for this model's heads and layers"
    return (f"nothing serves the target {scope}: {sequences} sequence(s) of {context:,} tokens need more KV cache than is "
            f"left after the weights and activations; lower --context or --concurrency, "
            f"{'or' if widen_with else 'add --kv-cache-dtype fp8, or'} {widen}")
