"""`python -m llmmem vllm serve MODEL [vLLM's own flags]`: will this command start, and with what?

A user pastes the `vllm serve` line they mean to run. It is parsed with vLLM's spellings, vLLM's
defaults fill the rest (max_model_len = the model's maximum, gpu_memory_utilization 0.9, the per-GPU
scheduler defaults), and the vLLM engine estimate predicts what vLLM prints at start-up. When vLLM
would stop, the failing check is named in vLLM's own words:
  max_model_len  ModelConfig: "User-specified max_model_len (X) is greater than the derived max_model_len ..."
  tensor_parallel  ModelConfig.verify_with_parallel_config: heads not divisible by tensor parallel size
  model_loading  CUDA out of memory while the weights load
  no_available_memory / max_seq_len  kv_cache_utils.check_enough_kv_cache_memory
  mamba_cache_blocks  hybrids: max_num_seqs above the state blocks (one per decode sequence)
and the smallest changes that make it start are given as corrected commands, each checked again.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from typing import Mapping

from .engines import estimate_serving
from .engines.vllm import VllmEstimate, format_gib
from .errors import InputError, LlmmemError
from .gpus import GPU, GPUS_PER_NODE, get_gpu, nodes_for, valid_tp
from .planner import needs_stored_checkpoint, stored_checkpoint_words
from .request import parse_float, parse_int
from .results import Result
from .serving import ServingOptions
from .spec import ModelSpec

DEFAULT_GPU = "H100-80GB"
MAX_UTILIZATION = 0.95  # the highest --gpu-memory-utilization a fix proposes
LONG_ENV = "VLLM_ALLOW_LONG_MAX_MODEL_LEN"
# NOTE: vLLM's _get_and_verify_max_len: a config naming no maximum length (Mamba) is "Assuming the model's
# maximum length is 2048" unless --max-model-len is given (then any length is taken).
VLLM_DEFAULT_MAX_LEN = 2048
LLMMEM_ONLY_FORMATS = frozenset({"fp8-dynamic", "fp8-block", "w8a8", "w4a16", "bnb-nf4", "bnb-nf4-single"})

# vLLM flag -> (our field, parser). Every spelling vLLM accepts: dashes or underscores, short forms.
_VALUE_FLAGS = {
    "--tensor-parallel-size": "tp", "-tp": "tp",
    "--pipeline-parallel-size": "pp", "-pp": "pp",
    "--max-model-len": "max_model_len",
    "--gpu-memory-utilization": "gpu_memory_utilization",
    "--max-num-seqs": "max_num_seqs",
    "--max-num-batched-tokens": "max_num_batched_tokens",
    "--kv-cache-dtype": "kv_cache_dtype",
    "--quantization": "quantization", "-q": "quantization",
    "--dtype": "dtype",
    "--model": "model",
    "--revision": "revision",
}
# Flags that take no value. Those that matter for memory are understood; the rest only listed.
_SWITCHES = {
    "--enforce-eager", "--trust-remote-code", "--enable-prefix-caching", "--no-enable-prefix-caching",
    "--enable-chunked-prefill", "--no-enable-chunked-prefill", "--disable-log-requests", "--disable-log-stats",
    "--enable-auto-tool-choice", "--enable-lora", "--disable-custom-all-reduce", "--enable-expert-parallel",
    "--disable-sliding-window", "--disable-cascade-attn", "--enable-log-requests", "--async-scheduling",
    "--use-tqdm-on-load", "--headless", "--disable-frontend-multiprocessing", "--enable-sleep-mode",
}
# Understood but not modelled: they change memory in ways this estimate does not follow.
_NOT_MODELLED = {"--block-size", "--cpu-offload-gb", "--swap-space", "--kv-offloading-size", "--max-cudagraph-capture-size",
                 "--num-gpu-blocks-override", "--data-parallel-size", "-dp", "--speculative-config", "--max-lora-rank"}
_DTYPES = {"auto": None, "half": "float16", "float16": "float16", "bfloat16": "bfloat16", "float": "float32", "float32": "float32"}
_KV_DTYPES = {"auto": "auto", "fp8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "bfloat16": "bf16", "float16": "fp16", "fp16": "fp16", "bf16": "bf16"}


@dataclass(frozen=True)
class ParsedCommand:
    model: str
    tokens: tuple[str, ...]  # the command after `vllm serve MODEL`, as given (for corrected commands)
    env: tuple[str, ...]  # leading NAME=VALUE assignments
    values: Mapping[str, str]
    switches: tuple[str, ...]
    ignored: tuple[str, ...]  # flags that do not change memory (or that this estimate does not model)


@dataclass(frozen=True)
class StartupCheck(Result):
    """The `--engine vllm` estimate of a `vllm serve` command, whether it starts, and the fixes."""

    command: str
    gpu: str
    estimate: VllmEstimate | None
    starts: bool
    failure: Mapping[str, str] | None
    fixes: tuple[Mapping[str, str], ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        head = self.estimate.to_dict() if self.estimate is not None else {"engine": "vllm", "gpu": self.gpu}
        head.pop("starts", None), head.pop("failure", None)
        notes = list(head.pop("notes", [])) + list(self.notes)
        return {"command": self.command, **head, "starts": self.starts, "failure": self.failure,
                "fixes": [dict(f) for f in self.fixes], "notes": notes}


def _canonical_flag(flag: str) -> str:
    # NOTE: vLLM's FlexibleArgumentParser accepts --max_model_len as --max-model-len.
    return flag if not flag.startswith("--") else "--" + flag[2:].replace("_", "-")


def parse_command(command: str | list[str]) -> ParsedCommand:
    """`[ENV=1] [vllm serve] MODEL [flags]` -> the model, the memory flags, and the rest."""
    try:
        tokens = shlex.split(command) if isinstance(command, str) else [str(t) for t in command]
    except ValueError as exc:  # an unclosed quote
        raise InputError(f"the vllm serve command does not parse ({exc}): close its quotes") from None
    env = []
    while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[0]):
        env.append(tokens.pop(0))
    if tokens[:2] == ["vllm", "serve"]:
        tokens = tokens[2:]
    elif tokens[:1] == ["serve"]:
        tokens = tokens[1:]
    model = None
    if tokens and not tokens[0].startswith("-"):
        model = tokens.pop(0)
    rest = tuple(tokens)
    values: dict[str, str] = {}
    switches: list[str] = []
    ignored: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-"):
            raise InputError(f"unexpected {token!r} in the vllm serve command: give the model first, then --flags")
        flag, eq, inline = token.partition("=")
        flag = _canonical_flag(flag)
        takes_value = flag not in _SWITCHES and (eq or (i + 1 < len(tokens) and not _is_flag(tokens[i + 1])))
        value = inline if eq else (tokens[i + 1] if takes_value else None)
        i += 1 if eq or not takes_value else 2
        if flag in _VALUE_FLAGS:
            if value is None:
                raise InputError(f"{flag} needs a value: write {flag} VALUE")
            values[_VALUE_FLAGS[flag]] = value
        elif flag in _SWITCHES:
            switches.append(flag)
            if flag != "--enforce-eager":
                ignored.append(flag)
        else:
            ignored.append(flag if value is None else f"{flag} {value}")
    if model is None:
        model = values.pop("model", None)
    if not model:
        raise InputError("no model in the command: write vllm serve MODEL [flags], MODEL a Hub ID, catalog name or config.json")
    return ParsedCommand(model, rest, tuple(env), values, tuple(switches), tuple(ignored))


def _is_flag(token: str) -> bool:
    return token.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", token)


def _length(text: str) -> int:
    """vLLM's --max-model-len: an int, or a human size (1k = 1000, 1K = 1024, 1m/1M likewise)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*", text)
    if not match:
        return parse_int("max_model_len", text)  # raises the one-line refusal
    number, suffix = float(match[1]), match[2]
    scale = {"": 1, "k": 1000, "K": 1024, "m": 10**6, "M": 2**20, "g": 10**9, "G": 2**30}[suffix]
    return parse_int("max_model_len", number * scale)


def options_from(parsed: ParsedCommand, spec: ModelSpec, gpu: GPU) -> ServingOptions:
    """vLLM's flags with vLLM's defaults for everything not given."""
    from .quantization import format_from_quantization_config, get_format

    v = parsed.values
    dtype = v.get("dtype", "auto").lower()
    if dtype not in _DTYPES:
        raise InputError(f"--dtype {v['dtype']!r} is not one vLLM knows: use auto, half, float16, bfloat16 or float32")
    kv = v.get("kv_cache_dtype", "auto").lower()
    if kv not in _KV_DTYPES:
        raise InputError(f"--kv-cache-dtype {v['kv_cache_dtype']!r} is not one vLLM knows: use auto, fp8, fp8_e4m3 or fp8_e5m2")
    quantization = v.get("quantization")
    if quantization is not None:
        name = quantization.lower()
        if name == "compressed-tensors":
            own = format_from_quantization_config(spec.quantization)
            quantization = own.name if own else "w8a8"
        else:
            quantization = get_format(name).name
    return ServingOptions(
        gpu=gpu, engine="vllm",
        tp=parse_int("tp", v.get("tp", 1)), pp=parse_int("pp", v.get("pp", 1)),
        dtype=_DTYPES[dtype], quantization=quantization, kv_cache_dtype=_KV_DTYPES[kv],
        gpu_memory_utilization=parse_float("gpu_memory_utilization", v.get("gpu_memory_utilization", 0.9)),
        max_num_batched_tokens=parse_int("max_num_batched_tokens", v.get("max_num_batched_tokens")),
        max_num_seqs=parse_int("max_num_seqs", v.get("max_num_seqs")),
        max_model_len=_length(v["max_model_len"]) if "max_model_len" in v else (spec.max_position_embeddings or VLLM_DEFAULT_MAX_LEN),
        allow_long_context=any(e in (f"{LONG_ENV}=1", f"{LONG_ENV}=true", f"{LONG_ENV}=True") for e in parsed.env),
    )


def _config_failure(spec: ModelSpec, options: ServingOptions, quantization_flag: str | None = None) -> dict | None:
    """The checks vLLM's config makes before any memory is touched, in its own words."""
    limit = spec.max_position_embeddings
    if limit and options.max_model_len > limit and not options.allow_long_context:
        return {
            "check": "max_model_len",
            "message": f"User-specified max_model_len ({options.max_model_len}) is greater than the derived max_model_len "
            f"(max_position_embeddings={limit} or model_max_length=None in model's config.json). To allow overriding this "
            f"maximum, set the env var {LONG_ENV}=1. {LONG_ENV} must be used with extreme caution.",
        }
    heads = spec.num_attention_heads or 1
    if heads % options.tp:
        return {"check": "tensor_parallel",
                "message": f"Total number of attention heads ({heads}) must be divisible by tensor parallel size ({options.tp})."}
    if not valid_tp(options.tp, spec):
        kv = spec.num_kv_heads or heads
        return {"check": "tensor_parallel",
                "message": f"tensor parallel size {options.tp} neither divides nor is a multiple of the {kv} KV heads "
                "(QKVParallelLinear cannot split or replicate them evenly)."}
    # NOTE: llmmem's own format names (w4a16, w8a8, fp8-block, ...) are not vLLM flags: `-q w4a16` describes a
    # checkpoint stored in that format (bench/accuracy.py feeds measured runs so), so only vLLM's names are checked.
    described = (quantization_flag or "").strip().lower() in LLMMEM_ONLY_FORMATS
    if options.quantization and not described and needs_stored_checkpoint(spec, options.quantization):
        # NOTE: AWQ/GPTQ look for their config file beside the weights (get_quant_config) and stop without it.
        flag = quantization_flag or options.quantization
        if spec.quantization:  # ModelConfig._verify_quantization
            message = (f"Quantization method specified in the model config ({spec.quantization.get('quant_method')}) does not "
                       f"match the quantization method specified in the `quantization` argument ({flag}).")
        elif options.quantization in ("awq", "gptq", "w4a16"):
            message = f"Cannot find the config file for {flag}"
        else:
            message = (f"the checkpoint's config.json has no {flag} quantization_config: vLLM loads {options.quantization} "
                       "weights only from a checkpoint stored in that format")
        return {"check": "quantization", "message": message}
    if options.pp > (spec.num_layers or 1):
        return {"check": "pipeline_parallel",
                "message": f"pipeline parallel size {options.pp} is more than the model's {spec.num_layers} layers."}
    return None


def predict(spec: ModelSpec, options: ServingOptions, quantization_flag: str | None = None) -> tuple[VllmEstimate | None, dict | None]:
    failure = _config_failure(spec, options, quantization_flag)
    if failure is not None:
        return None, failure
    estimate = estimate_serving(spec, options)
    return estimate, estimate.failure


def _with(parsed: ParsedCommand, flag: str, value: str, *, drop: tuple[str, ...] = ()) -> str:
    """The original command with `flag` set to `value` (every spelling of it replaced)."""
    names = {flag, *drop}
    names |= {k for k, field in _VALUE_FLAGS.items() if any(_VALUE_FLAGS.get(n) == field for n in names)}
    kept: list[str] = []
    tokens = list(parsed.tokens)
    i = 0
    while i < len(tokens):
        name, eq, _ = tokens[i].partition("=")
        if _canonical_flag(name) in names:
            i += 1 if eq else 2
            continue
        kept.append(tokens[i])
        i += 1
    return " ".join([*parsed.env, "vllm", "serve", parsed.model, *map(shlex.quote, kept), flag, value])


def _without(parsed: ParsedCommand, flag: str) -> str:
    """The original command without `flag` (every spelling of it)."""
    command = _with(parsed, flag, "")
    return command[: -len(f" {flag} ")]


def _fixes(parsed: ParsedCommand, spec: ModelSpec, options: ServingOptions, estimate, failure) -> list[dict]:
    """The smallest single changes that make the command start, each checked by predicting it again."""
    candidates: list[tuple[str, str, ServingOptions]] = []
    limit = spec.max_position_embeddings
    check = failure["check"]
    if check == "max_model_len":
        candidates.append((f"lower --max-model-len to the model's limit {limit}", _with(parsed, "--max-model-len", str(limit)),
                           replace(options, max_model_len=limit)))
    if check == "max_seq_len" and estimate is not None and estimate.estimated_max_model_len > 0:
        length = estimate.estimated_max_model_len
        candidates.append((f"lower --max-model-len to {length} (vLLM's estimated maximum model length)",
                           _with(parsed, "--max-model-len", str(length)), replace(options, max_model_len=length)))
    if check == "mamba_cache_blocks" and estimate is not None and estimate.num_blocks > 0:
        seqs = estimate.num_blocks
        candidates.append((f"lower --max-num-seqs to {seqs} (one state block per running sequence)",
                           _with(parsed, "--max-num-seqs", str(seqs)), replace(options, max_num_seqs=seqs)))
    if check in ("max_seq_len", "no_available_memory", "mamba_cache_blocks"):
        step = round(options.gpu_memory_utilization + 0.01, 2)
        while step <= MAX_UTILIZATION:
            trial = replace(options, gpu_memory_utilization=step)
            if _starts(spec, trial):
                candidates.append((f"raise --gpu-memory-utilization to {step:g}", _with(parsed, "--gpu-memory-utilization", f"{step:g}"), trial))
                break
            step = round(step + 0.01, 2)
    if check in ("max_seq_len",) and options.kv_cache_dtype != "fp8":
        candidates.append(("store the KV cache in fp8 (--kv-cache-dtype fp8)", _with(parsed, "--kv-cache-dtype", "fp8"),
                           replace(options, kv_cache_dtype="fp8")))
    if check == "quantization":
        candidates.append(("quantize the weights to fp8 on load instead (--quantization fp8)", _with(parsed, "--quantization", "fp8"),
                           replace(options, quantization="fp8")))
        candidates.append(("drop --quantization (serve the checkpoint's own weights)", _without(parsed, "--quantization"),
                           replace(options, quantization=None)))
    if check == "tensor_parallel":
        for size in sorted({t for t in range(1, GPUS_PER_NODE + 1) if valid_tp(t, spec)}, key=lambda t: (abs(t - options.tp), -t)):
            candidates.append((f"use --tensor-parallel-size {size} (it splits the heads evenly)",
                               _with(parsed, "--tensor-parallel-size", str(size)), replace(options, tp=size)))
    elif check in ("max_seq_len", "no_available_memory", "model_loading"):
        for size in range(options.tp + 1, GPUS_PER_NODE + 1):
            if valid_tp(size, spec):
                candidates.append((f"use --tensor-parallel-size {size} ({size * options.pp} GPUs)",
                                   _with(parsed, "--tensor-parallel-size", str(size)), replace(options, tp=size)))
        if options.quantization is None and estimate is not None and estimate.weights_format in ("fp16", "fp32"):
            candidates.append(("quantize the weights to fp8 on load (--quantization fp8)", _with(parsed, "--quantization", "fp8"),
                               replace(options, quantization="fp8")))
    # NOTE: one tensor-parallel fix is enough: the first size (the candidates are in order of preference) that starts.
    fixes: list[dict] = []
    tp_kept = False
    for change, command, trial in candidates:
        is_tp = change.startswith("use --tensor-parallel-size")
        if is_tp and tp_kept:
            continue
        if _starts(spec, trial):
            fixes.append({"change": change, "command": command})
            tp_kept |= is_tp
    return fixes


def _starts(spec: ModelSpec, options: ServingOptions) -> bool:
    try:
        _, failure = predict(spec, options)
    except LlmmemError:
        return False
    return failure is None


def check_vllm_serve(command: str | list[str], *, gpu: str | GPU | None = None, token: str | None = None,
                     allow_local_files: bool = True, offline: bool = False, prefer_catalog: bool = False) -> StartupCheck:
    """Predict `vllm serve ...` on `gpu` (default H100-80GB): its start-up figures, whether it starts, and fixes."""
    from .report import _resolve, launch_name
    from .request import make_request

    text = command if isinstance(command, str) else shlex.join(command)
    if len(text) > 4096:
        raise InputError(f"the command is {len(text):,} characters long: give at most 4096")
    parsed = parse_command(command)
    gpu = gpu if isinstance(gpu, GPU) else get_gpu(gpu or DEFAULT_GPU)
    request = make_request(model=parsed.model, revision=parsed.values.get("revision"), offline=offline)
    resolved = _resolve(request, token, allow_local_files, prefer_catalog)
    spec = resolved.spec
    if not spec.has_shape or not spec.breakdown:
        raise InputError(f"{parsed.model!r} is only a parameter count: the check needs the model's config.json or ID")
    options = options_from(parsed, spec, gpu)
    launch = launch_name(resolved, request)
    renamed = launch != parsed.model
    if renamed:  # a URL or a bare catalog name: vLLM needs the repo ID, so the fixes name it
        parsed = replace(parsed, model=launch)
    estimate, failure = predict(spec, options, parsed.values.get("quantization"))
    notes = [f"vLLM loads a Hub repo ID or a local folder: write {launch}, not {request.model}"] if renamed else []
    if failure is not None and failure["check"] == "quantization":
        notes.append(f"--quantization {parsed.values['quantization']}: {stored_checkpoint_words(spec)}; "
                     f"{options.quantization} weights need a checkpoint stored in that format (its own repo)")
    default_len = "the model's maximum" if spec.max_position_embeddings else "vLLM's default when config.json names no maximum length"
    defaults = [f"max_model_len {options.max_model_len} ({default_len})" if "max_model_len" not in parsed.values else None,
                "gpu_memory_utilization 0.9" if "gpu_memory_utilization" not in parsed.values else None]
    if estimate is not None:
        defaults += [f"max_num_seqs {estimate.max_num_seqs}" if "max_num_seqs" not in parsed.values else None,
                     f"max_num_batched_tokens {estimate.max_num_batched_tokens}" if "max_num_batched_tokens" not in parsed.values else None]
    defaults = [d for d in defaults if d]
    if defaults:
        notes.append(f"vLLM's defaults on {gpu.name}: " + ", ".join(defaults))
    if options.tp * options.pp > 1:
        notes.append(f"{options.tp * options.pp} x {gpu.name} ({nodes_for(options.tp * options.pp)} node(s) of {GPUS_PER_NODE})")
    if options.allow_long_context and spec.max_position_embeddings and options.max_model_len > spec.max_position_embeddings:
        notes.append(f"{LONG_ENV}=1: max_model_len beyond the model's {spec.max_position_embeddings} positions is allowed; outputs past it may be wrong")
    if parsed.ignored:
        memory_free = [f for f in parsed.ignored if f.split()[0] not in _NOT_MODELLED]
        not_modelled = [f for f in parsed.ignored if f.split()[0] in _NOT_MODELLED]
        if memory_free:
            notes.append("flags that do not change the memory estimate: " + ", ".join(memory_free))
        if not_modelled:
            notes.append("flags this estimate does not model (memory may differ): " + ", ".join(not_modelled))
    if "--enforce-eager" in parsed.switches:
        notes.append("--enforce-eager: no CUDA graphs; vLLM v1 sizes the KV cache before it captures them (gpu_worker), so the figures here do not change")
    fixes = _fixes(parsed, spec, options, estimate, failure) if failure else []
    return StartupCheck(command=text, gpu=gpu.name, estimate=estimate, starts=failure is None, failure=failure,
                        fixes=tuple(fixes), notes=tuple(notes))


def format_check(check: StartupCheck) -> str:
    """What vLLM would print, the verdict, and the fixes."""
    gib = lambda n: f"{format_gib(n)} GiB"  # noqa: E731
    e = check.estimate
    lines = [check.command, ""]
    if e is not None:
        lines += [
            f"on {e.gpus} x {e.gpu} ({gib(e.gpu_memory_bytes)} each): tp {e.tp}, pp {e.pp}, max_model_len {e.max_model_len}, "
            f"gpu_memory_utilization {e.gpu_memory_utilization}, weights {e.weights_format}, KV cache {e.kv_cache_dtype}",
            "predicted start-up (per GPU, as vLLM logs it):",
            f"  Model loading took {gib(e.weights_bytes_per_gpu)}",
            f"  activation peak {gib(e.activation_bytes)}, non-torch {gib(e.non_torch_bytes)} (CUDA context {gib(e.cuda_context_bytes)} not charged)",
            *([f"  Available KV cache memory: {gib(max(0, e.kv_cache_bytes_per_gpu))}",
               f"  GPU KV cache size: {e.kv_cache_tokens:,} tokens",
               f"  Maximum concurrency for {e.max_model_len:,} tokens per request: {e.max_concurrency:.2f}x"]
              if e.kv_cache_bytes_per_token or getattr(e, "state_bytes_per_sequence", 0) else
              ["  no KV cache: no layer keeps anything per token or per sequence (encoder-only); each request is one forward pass"]),
            "",
        ]
    if check.starts:
        lines.append("starts")
    else:
        lines += [f"does not start ({check.failure['check']}): ValueError: {check.failure['message']}"]
        if check.fixes:
            lines += ["", "fixes (each predicted to start):"]
            for fix in check.fixes:
                lines += [f"  {fix['change']}:", f"    {fix['command']}"]
        else:
            lines.append("no single change starts it: try `python -m llmmem plan MODEL` for a configuration that does")
    lines += [""] + [f"note: {n}" for n in check.notes]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """usage: python -m llmmem vllm serve MODEL [vLLM flags] [--gpu NAME] [--json] [--offline] [--token T] [--allow-long-context]

    Predicts what `vllm serve MODEL [vLLM flags]` prints at start-up on --gpu (default H100-80GB) and whether
    it starts; when it would not, the check that stops it in vLLM's words and corrected commands that start.
    vLLM flags: -tp/--tensor-parallel-size, -pp/--pipeline-parallel-size, --max-model-len (8192, 32k),
    --gpu-memory-utilization, --max-num-seqs, --max-num-batched-tokens, --kv-cache-dtype, -q/--quantization,
    --dtype, --enforce-eager; other flags are listed in a note. --allow-long-context = VLLM_ALLOW_LONG_MAX_MODEL_LEN=1.
    """
    import inspect
    import json
    import sys

    from .cli_common import EXIT_USAGE, guarded, hf_token

    ours = {"--gpu": None, "--token": None}
    flags = {"--json": False, "--offline": False, "--allow-long-context": False}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        name, eq, inline = argv[i].partition("=")
        if name in ours:
            if not eq and i + 1 >= len(argv):
                print(f"llmmem: {name} needs a value: write {name} VALUE", file=sys.stderr)
                return EXIT_USAGE
            ours[name] = inline if eq else argv[i + 1]
            i += 1 if eq else 2
            continue
        if argv[i] in flags:
            flags[argv[i]] = True
        else:
            rest.append(argv[i])
        i += 1
    if "-h" in argv or "--help" in argv:
        print(inspect.cleandoc(main.__doc__))
        return 0
    env = [f"{LONG_ENV}=1"] if flags["--allow-long-context"] else []

    def run() -> str:
        check = check_vllm_serve([*env, "vllm", "serve", *rest], gpu=ours["--gpu"], token=hf_token(ours["--token"]),
                                 offline=flags["--offline"])
        return json.dumps(check.to_dict(), indent=2) if flags["--json"] else format_check(check)

    return guarded(run)
