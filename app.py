"""llmmem's Gradio app: which GPUs, how many, and how to launch, for a model at a target context and load.

Pure presentation: every figure comes from the library (llmmem.request -> llmmem.report.estimate_request, and
llmmem.vllm_serve, llmmem.training); this file only turns the results into a headline, a table, a chart and text.
The page's inputs are declared once in FIELDS (name, component, default, URL key, parser); the share link,
the callbacks and the /estimate API are all derived from that table. Nothing is fetched at import or start-up;
a catalog model answers without the network, and a visitor's text never reaches the server's file system
(allow_local_files=False on every library call).
Run `python app.py`, open http://127.0.0.1:7860.
"""

from __future__ import annotations

import base64
import csv
import html
import inspect
import io
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import gradio as gr

from llmmem import catalog
from llmmem.engines import ENGINES
from llmmem.errors import InputError, LlmmemError
from llmmem.gpus import GPUS, get_gpu
from llmmem.precisions import DEFAULT_PRECISIONS, PRECISIONS
from llmmem.quantization import FORMATS
from llmmem.report import UNITS, Report, estimate_request, format_bytes, format_count
from llmmem.request import DEFAULT_GPUS as REQUEST_DEFAULT_GPUS
from llmmem.request import KV_CACHE_DTYPES, LIMITS, make_request
from llmmem.resolve import resolve
from llmmem.training import LORA_TARGETS, OPTIMIZERS, RECIPES, TrainingOptions, estimate_training
from llmmem.vllm_serve import check_vllm_serve

ON_SPACE = bool(os.environ.get("SPACE_ID"))
UNIT_MEANING = {"GB": "10^9 bytes", "GiB": "2^30 bytes"}
SOURCE_LABELS = {"catalog": "bundled catalog", "hub": "Hugging Face Hub", "parameter-count": "your number", "config": "config.json"}

# NOTE: every dropdown takes custom values, so that gradio itself never refuses a value (with a traceback in the
# log) before the library's own one-line check: a share link may hold weights=fp8,awq.
# NOTE: a text longer than these is refused before any work, whatever it holds (the request bounds the rest).
MAX_TEXT = {"model": 300, "gpus": 100, "hf_token": 300, "vllm_command": 2000}


# ------------------------------------------------------------------------------------- the inputs


def _text(name: str, raw: Any) -> str:
    """A text field: a string (a number is refused: the API's types are checked), stripped and bounded."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InputError(f"{name} must be text, got {type(raw).__name__}: send it as a string")
    text = raw.strip()
    if len(text) > MAX_TEXT[name]:
        raise InputError(f"{name} is {len(text):,} characters long: the most accepted is {MAX_TEXT[name]}")
    return text


def _shown(name: str, value: Any) -> Any:
    """A Request field's value as the page and the link hold it (text, or a number)."""
    if value is None:
        return FIELD_NONE.get(name, "auto")
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return value


# What a field holds when the request leaves it to the library (None).
FIELD_NONE = {"precisions": ",".join(DEFAULT_PRECISIONS)}


def _request_field(name: str) -> Callable[[Any], Any]:
    """Parse one field with the library's own rules (make_request owns every default and range)."""

    def parse(raw: Any) -> Any:
        if isinstance(raw, (list, tuple)) and name in LIST_FIELDS:
            if len(raw) > 16 or not all(isinstance(item, str) for item in raw):
                raise InputError(f"{name} must be names such as {FIELD_EXAMPLES[name]}")
            raw = ",".join(raw)
        elif isinstance(raw, (list, tuple, dict)):
            raise InputError(f"{name} must be a single value, got {type(raw).__name__}")
        elif name in LIST_FIELDS and not isinstance(raw, str):
            raise InputError(f"{name} must be text such as {FIELD_EXAMPLES[name]}, got {type(raw).__name__}")
        if name == "gpus":
            raw = _text("gpus", raw) or DEFAULT_GPU
        request = make_request(model="70B", **{name: raw})
        return _shown(name, getattr(request, name))

    return parse


def _model(raw: Any) -> str:
    text = _text("model", raw)
    return make_request(model=text).model


LIST_FIELDS = ("precisions", "gpus", "weights", "kv_cache_dtype")
FIELD_EXAMPLES = {"precisions": "fp16, int4", "gpus": "H100-80GB", "weights": "auto, fp8, awq", "kv_cache_dtype": "auto, fp8"}
ENGINE_NAMES = tuple(ENGINES)
WEIGHT_NAMES = ("auto", *FORMATS)
UNIT_NAMES = tuple(UNITS)
DEFAULT_GPU = REQUEST_DEFAULT_GPUS[0]
GPU_CHOICES = [(f"{g.name} ({g.memory_bytes / 2**30:.2f} GiB)", g.name) for g in GPUS]
CONTEXT_CHOICES = [("auto (≤ 8,192)", "auto"), ("max (longest that fits)", "max"),
                   *((f"{n:,}", str(n)) for n in (2048, 4096, 8192, 32768, 131072))]
CONCURRENCY_CHOICES = [("max (most that fit)", "max"), *((str(n), str(n)) for n in (1, 4, 8, 16, 32, 64, 256))]
PARALLEL_CHOICES = [("auto (the planner's)", "auto"), *((str(n), str(n)) for n in (1, 2, 4, 8, 16))]


@dataclass(frozen=True)
class Field:
    """One input of the page: its API name, URL key, default, parser, and how to build its component."""

    name: str  # the /estimate parameter: the library Request's field of that name (but hf_token, never in a request)
    url: str | None  # key in the share link; None: never in the URL (the token)
    default: Any
    parse: Callable[[Any], Any]  # raw value (URL text, API JSON, component value) -> clean value, or InputError
    component: Callable[..., gr.components.Component]
    api_type: Any = str

    def build(self) -> gr.components.Component:
        return self.component(value=component_value(self, self.default), elem_id=self.name)


_DEFAULT_REQUEST = make_request(model="70B")


def _default(name: str) -> Any:
    """The library's default for a Request field, as the page holds it."""
    return _shown(name, getattr(_DEFAULT_REQUEST, name))


FIELDS: tuple[Field, ...] = (
    Field("model", "model", "meta-llama/Llama-3.1-8B", _model,
          lambda **kw: gr.Dropdown(choices=catalog.names(), allow_custom_value=True, filterable=True, min_width=240,
                                   label="Model (catalog, Hub ID/URL, or 70B)", **kw)),
    Field("gpus", "gpu", DEFAULT_GPU, _request_field("gpus"),
          lambda **kw: gr.Dropdown(choices=GPU_CHOICES, allow_custom_value=True, filterable=True, min_width=160,
                                   label="GPU, or a size (48GB)", **kw)),
    Field("context", "context", _default("context"), _request_field("context"),
          lambda **kw: gr.Dropdown(choices=CONTEXT_CHOICES, allow_custom_value=True, min_width=110,
                                   label="Context (tokens)", **kw), int | str),
    Field("concurrency", "concurrency", _default("concurrency"), _request_field("concurrency"),
          lambda **kw: gr.Dropdown(choices=CONCURRENCY_CHOICES, allow_custom_value=True, min_width=110,
                                   label="Sequences", **kw), int | str),
    Field("engine", "engine", _default("engine"), _request_field("engine"),
          lambda **kw: gr.Radio(list(ENGINE_NAMES), label="Engine", min_width=150, **kw)),
    Field("weights", "weights", _default("weights"), _request_field("weights"),
          lambda **kw: gr.Dropdown(list(WEIGHT_NAMES), allow_custom_value=True, label="Weights format", info="auto: the checkpoint's own",
                                   min_width=120, **kw)),
    Field("kv_cache_dtype", "kv", _default("kv_cache_dtype"), _request_field("kv_cache_dtype"),
          lambda **kw: gr.Dropdown(list(KV_CACHE_DTYPES), allow_custom_value=True, label="KV-cache dtype", min_width=120, **kw)),
    Field("tp", "tp", _default("tp"), _request_field("tp"),
          lambda **kw: gr.Dropdown(PARALLEL_CHOICES, allow_custom_value=True, label="Tensor parallel", min_width=100, **kw),
          int | str),
    Field("pp", "pp", _default("pp"), _request_field("pp"),
          lambda **kw: gr.Dropdown(PARALLEL_CHOICES, allow_custom_value=True, label="Pipeline parallel", min_width=100, **kw),
          int | str),
    Field("gpu_memory_utilization", "util", _default("gpu_memory_utilization"), _request_field("gpu_memory_utilization"),
          lambda **kw: gr.Slider(*LIMITS["gpu_memory_utilization"], step=0.01, label="gpu_memory_utilization (vLLM)", min_width=160, **kw), float),
    Field("precisions", "precisions", _default("precisions"), _request_field("precisions"),
          lambda **kw: gr.CheckboxGroup(choices=[(p.label, p.name) for p in PRECISIONS.values()],
                                        label="Precisions in the table", **kw)),
    Field("unit", "unit", _default("unit"), _request_field("unit"),
          lambda **kw: gr.Radio(list(UNIT_NAMES), label="Units", info="GB = 10^9 bytes, GiB = 2^30 bytes", min_width=120, **kw)),
    Field("hf_token", None, "", lambda raw: _text("hf_token", raw),
          lambda **kw: gr.Textbox(type="password", placeholder="hf_...",
                                  label="Hugging Face access token: used for this request only, never stored or logged", **kw)),
)
FIELD = {f.name: f for f in FIELDS}
URL_FIELDS = tuple(f for f in FIELDS if f.url)
REQUEST_FIELDS = tuple(f.name for f in FIELDS if f.name != "hf_token")


def component_value(f: Field, value: Any) -> Any:
    """A clean value as its component holds it: the checkbox group a list, dropdowns text."""
    if f.name == "precisions":
        return value.split(",")
    if f.api_type in (int, bool, float):  # numbers and flags keep their type (gr.Number, gr.Checkbox, gr.Slider)
        return value
    return str(value)


def parse_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Every field's raw value -> clean values; the first bad one raises InputError naming it."""
    return {f.name: f.parse(raw[f.name]) if raw.get(f.name) not in (None, "") else f.default for f in FIELDS}


def query_string(values: dict[str, Any]) -> str:
    """The share link's query for these values: only what differs from the defaults (never the token)."""
    return urlencode({f.url: values[f.name] for f in URL_FIELDS if values[f.name] != f.default})


def values_from_query(query: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A share link's parameters -> values; what cannot be used falls back to the default, with a note."""
    values, notes = {f.name: f.default for f in FIELDS}, []
    for f in URL_FIELDS:
        if f.url not in query:
            continue
        try:
            parsed = f.parse(query[f.url])
        except LlmmemError as exc:
            notes.append(f"ignored {f.url}= from the link ({exc}); using {f.default}")
            continue
        if query[f.url] != "":  # an empty value that parses is the default, as in parse_values
            values[f.name] = parsed
    return values, notes


# ------------------------------------------------------------------------------------ the library


def answer(values: dict[str, Any]) -> Report:
    """Clean values -> the library's Report (its to_dict() is the CLI's --json object)."""
    # NOTE: what equals the page's default is left to the library's default, so the same question sent from the
    # page, the API or the CLI builds the same Request (the GPU is always named: the page sizes for one).
    asked = {name: values[name] for name in REQUEST_FIELDS if name in ("model", "gpus") or values[name] != FIELD[name].default}
    request = make_request(**asked)
    # NOTE: no visitor text ever reaches the file system: local paths are a CLI feature only.
    # NOTE: a catalog model (no pinned revision) answers from the bundled catalog, without a Hub call.
    return estimate_request(request, token=values["hf_token"] or None, allow_local_files=False, prefer_catalog=True)


def estimate_values(raw: dict[str, Any]) -> tuple[dict[str, Any], Report]:
    values = parse_values(raw)
    return values, answer(values)


def _clean_error(exc: Exception) -> gr.Error:
    """One line, as text (never markup), and no traceback in the server log."""
    if isinstance(exc, LlmmemError):
        return gr.Error(html.escape(str(exc), quote=False), print_exception=False)
    # NOTE: a bug must not print a visitor's input in a traceback either; the class name says what to report
    return gr.Error(f"internal error ({exc.__class__.__name__}): please report the input that caused it", print_exception=False)


def _api_estimate(*args, **kwargs) -> dict:
    raw = dict(zip((f.name for f in FIELDS), args))
    raw.update(kwargs)
    try:
        return estimate_values(raw)[1].to_dict()
    except Exception as exc:
        raise _clean_error(exc) from None


def _make_api() -> Callable[..., dict]:
    """The /estimate function, its parameters (names, types, defaults) derived from FIELDS."""
    parameters = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.api_type)
                  for f in FIELDS]

    def estimate(*args, **kwargs) -> dict:
        return _api_estimate(*args, **kwargs)

    estimate.__signature__ = inspect.Signature(parameters, return_annotation=dict)
    estimate.__annotations__ = {**{f.name: f.api_type for f in FIELDS}, "return": dict}
    estimate.__doc__ = (
        "The estimate: exactly the JSON object `python -m llmmem MODEL ... --json` prints. model: a catalog name, Hub ID "
        "or URL, or a count like 70B. gpus: a catalog GPU or a size like 48GB (comma-separated for several). context: "
        "tokens, 'max' or 'auto'; concurrency: sequences or 'max'; tp / pp: a size or 'auto' (the planner's). "
        "hf_token: used for this request only, never stored."
    )
    return estimate


estimate = _make_api()


def check_command(command: str, gpus: str = DEFAULT_GPU, hf_token: str = "") -> dict:
    """Will this `vllm serve ...` command start on this GPU? vLLM's start-up figures, the failing check, the fixes."""
    try:
        text = _text("vllm_command", command)
        gpu = FIELD["gpus"].parse(gpus or DEFAULT_GPU).split(",")[0]
        return check_vllm_serve(text, gpu=gpu, token=_text("hf_token", hf_token) or None, allow_local_files=False,
                                prefer_catalog=True).to_dict()
    except Exception as exc:
        raise _clean_error(exc) from None


# ------------------------------------------------------------------------------------- fine-tuning

MAX_TRAIN = {"batch": 4096, "seq_len": 2**20, "lora_rank": 4096}


def _bounded(name: str, high: int) -> Callable[[Any], int]:
    """A whole number from 1 to `high` (text or a number), or InputError naming the field."""

    def parse(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)) or (isinstance(raw, str) and len(raw) > 20):
            raise InputError(f"{name} must be a whole number from 1 to {high:,}")
        try:
            value = float(raw.strip().replace(",", "") if isinstance(raw, str) else raw)
        except (ValueError, OverflowError):
            value = math.nan
        if not math.isfinite(value) or value != int(value) or not 1 <= value <= high:
            raise InputError(f"{name} must be a whole number from 1 to {high:,}, got {str(raw)[:20]}")
        return int(value)

    return parse


def _one_of(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        if not isinstance(raw, str) or raw.strip().lower() not in choices:
            shown = raw if isinstance(raw, str) and len(raw) <= 30 else type(raw).__name__
            raise InputError(f"{name} {shown!r} is not one of {', '.join(choices)}")
        return raw.strip().lower()

    return parse


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return raw.strip().lower() in ("true", "1", "yes")
    raise InputError(f"checkpointing must be true or false, got {str(raw)[:20]}")


TRAIN_DEFAULTS = TrainingOptions()
# The fine-tuning inputs, declared like FIELDS (the model, GPU and token come from the main form); not in the link.
TRAIN_FIELDS: tuple[Field, ...] = (
    Field("recipe", None, TRAIN_DEFAULTS.recipe, _one_of("recipe", RECIPES),
          lambda **kw: gr.Radio(list(RECIPES), label="Recipe", info="mixed: fp32 master weights, bf16 compute", **kw)),
    Field("batch", None, TRAIN_DEFAULTS.batch, _bounded("batch", MAX_TRAIN["batch"]),
          lambda **kw: gr.Number(label="Batch (sequences per step)", precision=0, minimum=1, **kw), int),
    Field("seq_len", None, TRAIN_DEFAULTS.seq_len, _bounded("seq_len", MAX_TRAIN["seq_len"]),
          lambda **kw: gr.Number(label="Sequence length (tokens)", precision=0, minimum=1, **kw), int),
    Field("checkpointing", None, TRAIN_DEFAULTS.checkpointing, _flag,
          lambda **kw: gr.Checkbox(label="Gradient checkpointing", **kw), bool),
    Field("optimizer", None, TRAIN_DEFAULTS.optimizer, _one_of("optimizer", OPTIMIZERS),
          lambda **kw: gr.Dropdown(list(OPTIMIZERS), allow_custom_value=True, label="Optimizer", **kw)),
    Field("lora_rank", None, TRAIN_DEFAULTS.lora_rank, _bounded("lora_rank", MAX_TRAIN["lora_rank"]),
          lambda **kw: gr.Number(label="LoRA rank", precision=0, minimum=1, **kw), int),
    Field("lora_targets", None, TRAIN_DEFAULTS.lora_targets, _one_of("lora_targets", LORA_TARGETS),
          lambda **kw: gr.Dropdown(list(LORA_TARGETS), allow_custom_value=True, label="LoRA targets", **kw)),
)
TRAIN_API_FIELDS = (FIELD["model"], FIELD["gpus"], *TRAIN_FIELDS, FIELD["hf_token"])


def training_values(raw: dict[str, Any]) -> dict[str, Any]:
    return {f.name: f.parse(raw[f.name]) if raw.get(f.name) not in (None, "") else f.default for f in TRAIN_API_FIELDS}


def estimate_fine_tuning(values: dict[str, Any]) -> dict:
    """Clean values -> llmmem.training's estimate of one fine-tuning step, as its to_dict()."""
    gpu = get_gpu(values["gpus"].split(",")[0])
    spec = resolve(values["model"], token=values["hf_token"] or None, allow_local_files=False, prefer_catalog=True).spec
    options = TrainingOptions(gpu=gpu, **{f.name: values[f.name] for f in TRAIN_FIELDS})
    return estimate_training(spec, options).to_dict()


def _make_train_api() -> Callable[..., dict]:
    """The /estimate_training function, its parameters derived from TRAIN_API_FIELDS."""

    def estimate_training_api(*args, **kwargs) -> dict:
        raw = dict(zip((f.name for f in TRAIN_API_FIELDS), args))
        raw.update(kwargs)
        try:
            return estimate_fine_tuning(training_values(raw))
        except Exception as exc:
            raise _clean_error(exc) from None

    estimate_training_api.__signature__ = inspect.Signature(
        [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.api_type)
         for f in TRAIN_API_FIELDS], return_annotation=dict)
    estimate_training_api.__annotations__ = {**{f.name: f.api_type for f in TRAIN_API_FIELDS}, "return": dict}
    estimate_training_api.__doc__ = ("Memory for one fine-tuning step (llmmem.training): the allocated peak, its terms, and "
                                     "how many GPUs. recipe: full, mixed, lora or qlora.")
    return estimate_training_api


estimate_training_api = _make_train_api()


# ---------------------------------------------------------------------------------------- rendering


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value / UNITS[unit]:,.2f}"


def html_table(headers: list[str], rows: list[list[str]], elem_class: str = "num-table", numeric_from: int = 1) -> str:
    """A table that scrolls inside its own box; columns from `numeric_from` on are right-aligned numbers."""
    head = "".join(f'<th scope="col" class="{"num" if i >= numeric_from else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i >= numeric_from else ""}">{cell}</td>' for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="table-scroll"><table class="{elem_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def card_html(report: dict) -> str:
    parts = [f"<b>{report['parameters']:,} parameters</b> ({esc(format_count(report['parameters']))})"]
    if report.get("active_parameters"):
        parts.append(f"<b>{esc(format_count(report['active_parameters']))} active</b> per token ({report['active_parameters']:,})")
    arch = report.get("architecture")
    if arch:
        shape = f"<code>{esc(report.get('model_type') or 'unknown')}</code>: {esc(arch.get('num_layers'))} layers, hidden {esc(arch.get('hidden_size'))}"
        if arch.get("num_attention_heads"):
            shape += f", {esc(arch['num_attention_heads'])} heads / {esc(arch.get('num_kv_heads', arch['num_attention_heads']))} KV heads"
        if arch.get("num_experts"):
            shape += f", {esc(arch['num_experts'])} experts ({esc(arch.get('experts_per_token'))} per token)"
        parts.append(shape)
    parts.append(f"source: <b>{esc(SOURCE_LABELS.get(report['source'], report['source']))}</b>")
    if report.get("approximate"):
        parts.append("approximate count")
    notes = "".join(f"<li>{esc(note)}</li>" for note in report.get("notes", []))
    return (f'<div class="card"><h3>{esc(report["model"])}</h3><p>{" · ".join(parts)}</p>'
            + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</div>")


def best_plan(report: dict) -> dict | None:
    plan = report.get("plan") or {}
    return (plan.get("plans") or [None])[0]


def headline_html(report: dict) -> str:
    """The Report's one-sentence answer, its `vllm serve ...` part as code."""
    parts = re.split(r"`([^`]*)`", report["headline"])
    text = "".join(f"<code>{esc(p)}</code>" if i % 2 else esc(p) for i, p in enumerate(parts))
    return f'<div class="headline" id="answer">{text}</div>'


def layout_text(count: dict) -> str:
    """A plan's GPU count and layout: '2 (TP 2)', '4 (TP 2 × PP 2)'."""
    if count.get("count") is None:
        return "none fits"
    layout = f"TP {count['tp']}" + (f" × PP {count['pp']}" if count.get("pp", 1) > 1 else "")
    nodes = f", {count['nodes']} nodes of 8" if count.get("nodes", 1) > 1 else ""
    return f"{count['count']} ({layout}{nodes})"


def table_html(report: dict, unit: str) -> str:
    """The precision table: memory figures (unit in the header), then per GPU the planner's count for the row's
    weights, the rule of thumb's count, and what the row's plan gives (KV-cache tokens, sequences)."""
    target = report.get("target")
    vllm = (report.get("serving") or {}).get("engine") == "vllm"
    headers = ["Precision", f"Weights ({unit})", f"Rule of thumb ×1.2 ({unit})", f"Largest layer ({unit})", f"Training, Adam ({unit})"]
    for g in report["gpus"]:
        if target:
            headers.append(f"{g['gpu']}: GPUs to serve the target (planner)")
        headers.append(f"{g['gpu']}: GPUs needed by the rule of thumb (tensor-parallel)")
    if target:
        at = f" at {target['context']:,} tokens" if target["context"] != "max" else ""
        headers += ["KV-cache tokens (planner)", f"Max concurrency{at} (planner)"]
        # NOTE: under vLLM every plan's total is its budget (the KV cache takes the rest): not a figure that differs.
        if not vllm:
            headers.append(f"Per GPU at the plan ({unit})")
    rows = []
    for row in report["precisions"]:
        cells = [esc(row["label"]), number(row["weights_bytes"], unit), number(row["seed_formula_bytes"], unit),
                 number(row["largest_layer_bytes"], unit), number(row["training_adam_bytes"], unit)]
        for count in row["gpus"]:
            if target:
                cells.append(esc(layout_text(count)))
            rule = count["rule_of_thumb"]
            cells.append(f"{rule['tp_count']}" + (f" ({rule['nodes']} nodes of 8)" if rule["nodes"] > 1 else ""))
        if target:
            count = row["gpus"][0]
            cells += [f"{count['kv_cache_tokens']:,}" if count.get("kv_cache_tokens") is not None else "n/a",
                      f"{count['max_concurrency']:,}" if count.get("max_concurrency") is not None else "n/a"]
            if not vllm:
                cells.append(number(count.get("total_bytes_per_gpu"), unit))
        rows.append(cells)
    return html_table(headers, rows)


# NOTE: the chart is an SVG drawn here, not gr.BarPlot: gradio 6.31's plot pushes the previous render's data
# on an update that keeps its spec (its data effect runs before the data is recomputed), and keeps the colour
# domain of its first render, so after 8B -> 70B it drew 8B's bars without the new colours.
CHART_PARTS = {
    "weights": "#4f46e5",
    "KV cache": "#0ea5e9",
    "activations": "#f59e0b",
    "runtime (CUDA, NCCL)": "#94a3b8",
    "rule-of-thumb margin (×1.2)": "#f97316",
}
GPU_FILL = "#16a34a"
CHART_W, CHART_H, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 480, 314, 14, 58, 52
SERVING_PARTS = {"weights": "weights_bytes_per_gpu", "KV cache": "kv_cache_bytes_per_gpu", "activations": "activation_bytes",
                 "runtime (CUDA, NCCL)": "non_torch_bytes"}


def chart_bars(report: dict) -> list[dict]:
    """Per precision, what one GPU holds (stacked parts, bytes) at that precision's plan, then the GPU's memory
    (vLLM: its budget, gpu_memory_utilization × memory). Without a plan: the rule of thumb's weights + margin."""
    serving = report.get("serving") or {}
    vllm = serving.get("engine") == "vllm"
    bars = []
    for row in report["precisions"]:
        count = row["gpus"][0]
        if all(count.get(key) is not None for key in SERVING_PARTS.values()):
            parts = {part: count[key] for part, key in SERVING_PARTS.items()}
            note = [f"{count['count']} GPU{'s' if count['count'] > 1 else ''}"] + ([f"{count['max_concurrency']:g} seqs"] if vllm else [])
        else:
            parts = {"weights": row["weights_bytes"], "rule-of-thumb margin (×1.2)": row["seed_formula_bytes"] - row["weights_bytes"]}
            note = None
        bars.append({"label": row["name"], "title": row["label"], "parts": parts, "note": note})
    gpu = report["gpus"][0]
    if vllm:
        budget = int(serving["gpu_memory_utilization"] * gpu["memory_bytes"])
        bars.append({"label": gpu["gpu"], "title": f"{gpu['gpu']} × gpu_memory_utilization {serving['gpu_memory_utilization']}",
                     "parts": {"GPU memory": budget}, "note": [f"× {serving['gpu_memory_utilization']}"]})
    else:
        bars.append({"label": gpu["gpu"], "title": f"{gpu['gpu']} memory", "parts": {"GPU memory": gpu["memory_bytes"]}, "note": None})
    return bars


def _nice_step(top: float) -> float:
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def chart_svg(report: dict, unit: str) -> str:
    """A stacked bar per precision beside the GPU; every rect carries its part and bytes (data-*)."""
    bars = chart_bars(report)
    scale = UNITS[unit]
    top = max(sum(b["parts"].values()) for b in bars) / scale or 1
    step = _nice_step(top)
    y_max = step * math.ceil(top / step)
    plot_h = CHART_H - CHART_TOP - CHART_BOTTOM
    slot = (CHART_W - CHART_LEFT) / len(bars)
    y = lambda value: CHART_TOP + plot_h * (1 - value / y_max)  # noqa: E731
    out = [f'<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="memory per GPU by precision, {unit}">']
    for k in range(int(round(y_max / step)) + 1):
        tick = k * step
        out.append(f'<line x1="{CHART_LEFT}" x2="{CHART_W}" y1="{y(tick):.2f}" y2="{y(tick):.2f}" class="grid"/>'
                   f'<text x="{CHART_LEFT - 6}" y="{y(tick) + 4:.2f}" class="tick" text-anchor="end">{tick:,.{0 if step >= 1 else 2}f}</text>')
    out.append(f'<text x="12" y="{CHART_TOP + plot_h / 2:.0f}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 12 {CHART_TOP + plot_h / 2:.0f})">per GPU ({unit})</text>')
    for i, bar in enumerate(bars):
        x = CHART_LEFT + i * slot + slot * 0.15
        width = slot * 0.7
        base = 0.0
        for part, value in bar["parts"].items():
            height = plot_h * value / scale / y_max
            fill = CHART_PARTS.get(part, GPU_FILL)
            out.append(f'<rect class="bar" x="{x:.2f}" y="{y(base + value / scale):.2f}" width="{width:.2f}" height="{height:.3f}" '
                       f'fill="{fill}" data-bar="{esc(bar["label"])}" data-part="{esc(part)}" data-bytes="{value}">'
                       f'<title>{esc(bar["title"])}: {esc(part)} {format_bytes(value, unit)}</title></rect>')
            base += value / scale
        centre = x + width / 2
        total = sum(bar["parts"].values())
        out.append(f'<text x="{centre:.2f}" y="{CHART_H - CHART_BOTTOM + 16}" class="label" text-anchor="middle">{esc(bar["label"])}</text>')
        for line, text in enumerate(bar["note"] or [f"{format_bytes(total, unit)}"]):
            out.append(f'<text x="{centre:.2f}" y="{CHART_H - CHART_BOTTOM + 31 + 14 * line}" class="sub" text-anchor="middle">'
                       f'{esc(text)}</text>')
    out.append("</svg>")
    present = [part for part in CHART_PARTS if any(b["parts"].get(part, 0) > 0 for b in bars)]
    vllm = (report.get("serving") or {}).get("engine") == "vllm"
    gpu_name = "vLLM's budget (utilization × GPU memory)" if vllm else "GPU memory"
    legend = "".join(f'<span class="key"><i style="background:{CHART_PARTS[p]}"></i>{esc(p)}</span>' for p in present)
    legend += f'<span class="key"><i style="background:{GPU_FILL}"></i>{esc(gpu_name)}</span>'
    planned = any("weights" in b["parts"] and "KV cache" in b["parts"] for b in bars[:-1])
    caption = ("What one GPU holds at each precision's plan, beside the GPU" if planned
               else "Rule of thumb at each precision, beside the GPU (a serving plan needs the model's config)")
    return f'<figure class="chart-box"><figcaption>{caption}</figcaption>{"".join(out)}<div class="legend">{legend}</div></figure>'


def serving_html(report: dict, unit: str) -> str:
    """The engine's estimate at the planner's configuration (or at the tp/pp the request names)."""
    s = report.get("serving")
    if not s:
        return '<p class="muted">Serving estimate: needs the model\'s config (a catalog or Hub model), not only a parameter count.</p>'
    vllm = s.get("engine") == "vllm"
    context = s.get("max_model_len") or s.get("context")
    rows = [
        ["weights", number(s["weights_bytes_per_gpu"], unit)],
        ["KV cache", number(s["kv_cache_bytes_per_gpu"], unit)],
        ["activations (peak)", number(s["activation_bytes"], unit)],
        ["runtime outside PyTorch" if vllm else "runtime (CUDA context, NCCL)", number(s["non_torch_bytes"], unit)],
        [f"total per GPU (GPU: {number(s['gpu_memory_bytes'], unit)})", number(s["total_bytes_per_gpu"], unit)],
    ]
    if vllm:
        rows.insert(0, [f"budget: {s['gpu_memory_utilization']} × GPU memory", number(s["requested_memory_bytes"], unit)])
        # NOTE: vLLM 0.19 does not charge the CUDA context that exists before the model loads to its budget,
        # so the total is the budget plus this row.
        rows.insert(5, ["CUDA context (outside the budget)", number(s["cuda_context_bytes"], unit)])
    rows += [
        ["KV cache per token (bytes)", f"{s['kv_cache_bytes_per_token']:,}"],
        *([["fixed state per sequence (bytes)", f"{s['state_bytes_per_sequence']:,}"]]
          if s.get("state_bytes_per_sequence") else []),
        ["KV-cache tokens", f"{s['kv_cache_tokens']:,}"],
        [f"max concurrency at {context:,} tokens", f"{s['max_concurrency']:,}"],
    ]
    verdict = ("starts" if s.get("starts") else "would not start") if vllm else ("fits" if s["fits"] else "does not fit")
    settings = (f"TP {s['tp']} × PP {s['pp']} · weights {esc(s['weights_format'])} · KV cache {esc(s['kv_cache_dtype'])}"
                + (f" · max_model_len {context:,}" if vllm else f" · {s.get('batch', 1)} × {context:,} tokens"))
    failure = s.get("failure") if vllm else None
    why = f'<p class="error-text">{esc(failure["check"])}: {esc(failure["message"])}</p>' if failure else ""
    return (f'<h4>Serving on {s["gpus"]} × {esc(s["gpu"])} ({esc(s["engine"])}): {verdict}</h4><p>{settings}</p>{why}'
            + html_table(["Per GPU", f"Value ({unit})"], [[esc(a), b] for a, b in rows], "num-table serving-table"))


PLAN_TERMS = ("kv_cache_tokens", "max_concurrency", "max_context", "weights_bytes_per_gpu", "kv_cache_bytes_per_gpu",
              "activation_bytes", "non_torch_bytes", "total_bytes_per_gpu", "fits", "command")
CSV_HEADER = ["model", "parameters", "precision", "bits", "weights_bytes", "seed_formula_bytes", "largest_layer_bytes",
              "training_adam_bytes", "gpu", "gpu_memory_bytes", "rule_of_thumb_gpus", "rule_of_thumb_gpus_tensor_parallel",
              "rule_of_thumb_nodes", "plan_gpus", "plan_tp", "plan_pp", "plan_nodes", *(f"plan_{t}" for t in PLAN_TERMS),
              "serving_layout", "serving_total_bytes_per_gpu", "serving_fits"]


def csv_text(report: dict) -> str:
    """Every column the page shows, as exact bytes (unit-free): one row per precision and GPU."""
    memory = {g["gpu"]: g["memory_bytes"] for g in report["gpus"]}
    s = report.get("serving")
    layout = f"{s['gpus']} x {s['gpu']} tp {s['tp']} pp {s['pp']}" if s else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report["precisions"]:
        for count in row["gpus"]:
            rule = count["rule_of_thumb"]
            writer.writerow([report["model"], report["parameters"], row["name"], row["bits"], row["weights_bytes"],
                             row["seed_formula_bytes"], row["largest_layer_bytes"], row["training_adam_bytes"], count["gpu"],
                             memory.get(count["gpu"]), rule.get("count"), rule.get("tp_count"), rule.get("nodes"),
                             count.get("count"), count.get("tp"), count.get("pp"), count.get("nodes"),
                             *(count.get(t) for t in PLAN_TERMS), layout, row.get("serving_total_bytes"), row.get("serving_fits")])
    return out.getvalue()


def csv_link(report: dict) -> str:
    """A download link that carries the CSV itself (a data: URL): no temporary file on the server."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", report["model"])[:80]
    data = base64.b64encode(csv_text(report).encode()).decode()
    return (f'<a class="csv-link" id="csv-link" download="llmmem-{esc(slug)}.csv" href="data:text/csv;base64,{data}">'
            "Download CSV (exact bytes)</a>")


def how_markdown(report: dict, unit: str) -> str:
    p = report["parameters"]
    gpu = report["gpus"][0]
    lines = [
        "**Rule of thumb** (the seed formula): `M = P × 4 bytes / (32 / Q) × 1.2`, "
        f"with this model's P = {p:,} parameters:",
        "",
        "| precision | Q (bits) | M = P × 4 / (32 / Q) × 1.2 | weights alone = P × Q / 8 |",
        "|---|--:|--:|--:|",
    ]
    for row in report["precisions"]:
        m, w = row["seed_formula_bytes"], row["weights_bytes"]
        lines.append(f"| {row['label']} | {row['bits']} | {p:,} × 4 / (32 / {row['bits']}) × 1.2 = {m:,} bytes = "
                     f"**{format_bytes(m, unit)}** | {w:,} bytes = {format_bytes(w, unit)} |")
    lines += [
        "",
        f"**GPUs needed by the rule of thumb** = ceil(M / GPU memory). A {gpu['label']} holds {gpu['memory_bytes']:,} bytes as "
        f"CUDA reports it ({format_bytes(gpu['memory_bytes'], 'GB')} = {format_bytes(gpu['memory_bytes'], 'GiB')}); the "
        "tensor-parallel count is the smallest size that holds M and divides the attention heads; beyond 8, nodes of 8.",
        "",
        "**GPUs to serve the target (planner)**: the fewest GPUs (then the cheapest, then the most headroom) whose "
        "engine estimate holds the target's sequences at its context, over tensor × pipeline parallel layouts.",
    ]
    plan = report.get("plan") or {}
    serving = report.get("serving")
    lines += [f"- {note}" for note in plan.get("notes") or []]
    if serving:
        lines += ["", "**Serving** (the chart, the serving columns and panel):", *(f"- {note}" for note in serving.get("notes") or [])]
    lines += ["", f"Units: {unit} = {UNIT_MEANING[unit]}. GPU sizes are what CUDA reports: an \"80 GB\" card holds about 80 GiB."]
    return "\n".join(md_escape(line) for line in lines)


def md_escape(line: str) -> str:
    """Markdown text from the report (notes quote the model's name): angle brackets as text, never HTML."""
    return line.replace("<", "&lt;").replace(">", "&gt;")


def check_html(result: dict) -> str:
    """A `vllm serve` check: the verdict in vLLM's words, its start-up figures, and each fix as a command."""
    if result.get("starts"):
        head = f'<div class="ok-box"><b>It starts</b> on {esc(result["gpus"])} × {esc(result["gpu"])}: '
        head += (f'KV cache {result["kv_cache_tokens"]:,} tokens, max concurrency {result["max_concurrency"]:,} at '
                 f'{result["max_model_len"]:,} tokens.</div>')
    else:
        failure = result.get("failure") or {}
        head = (f'<div class="error-box" role="alert"><b>Would not start</b> ({esc(failure.get("check"))}): '
                f'{esc(failure.get("message"))}</div>')
    fixes = "".join(f'<li>{esc(fix["change"])}<pre class="fix-command"><code>{esc(fix["command"])}</code></pre></li>'
                    for fix in result.get("fixes") or [])
    notes = "".join(f"<li>{esc(note)}</li>" for note in result.get("notes") or [])
    return (head + (f'<p><b>Fixes</b> (each checked to start):</p><ol class="fixes">{fixes}</ol>' if fixes else "")
            + (f'<ul class="notes muted">{notes}</ul>' if notes else ""))


TERM_LABELS = {"weights": "weights", "adapters": "LoRA adapters (fp32)", "gradients": "gradients",
               "optimizer_states": "optimizer states", "optimizer_step_temporaries": "optimizer step temporaries",
               "saved_activations": "activations saved for the backward", "logits_and_loss": "logits and loss",
               "autocast_weight_copies": "autocast bf16 weight copies", "cublas_workspaces": "cuBLAS workspaces"}


def training_html(result: dict, unit: str) -> str:
    """One fine-tuning step: the allocated peak, when it happens, its terms, and the GPUs it needs."""
    gpu = result["gpus"][0] if result.get("gpus") else None
    if gpu is None:
        where = ""
    elif gpu.get("count") is None:
        where = f": the activations alone do not fit one {esc(gpu['gpu'])}; shorten the sequence or turn on checkpointing"
    elif gpu["count"] == 1:
        where = f": fits one {esc(gpu['gpu'])}"
    else:
        where = f": {gpu['count']} × {esc(gpu['gpu'])} sharding weights, gradients and states (FSDP / ZeRO-3)"
    head = (f'<div class="headline" id="train-answer">{esc(result["recipe"])} fine-tuning of {esc(result["model"])} '
            f'({result["batch"]:,} × {result["seq_len"]:,} tokens, {esc(result["optimizer"])}'
            f'{", checkpointing" if result["checkpointing"] else ""}): peak {format_bytes(result["peak_bytes"], unit)} '
            f'allocated, at the {esc(result["peak_moment"])}{where}.</div>')
    rows = [[esc(TERM_LABELS.get(k, k)), number(v, unit)] for k, v in result["terms"].items() if v]
    rows += [[f"<b>peak ({esc(result['peak_moment'])})</b>", f"<b>{number(result['peak_bytes'], unit)}</b>"],
             ["accelerate's \"training (Adam)\" (4 × the weights), for comparison", number(result["accelerate_training_bytes"], unit)]]
    facts = (f'<p>{result["trainable_parameters"]:,} trainable of {result["parameters"]:,} parameters.</p>')
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.get("notes") or [])
    return (head + facts + html_table(["Term", f"Memory ({unit})"], rows, "num-table training-table")
            + (f'<ul class="notes muted">{notes}</ul>' if notes else ""))


# ---------------------------------------------------------------------------------------- callbacks

RESULT_NAMES = ("headline", "command", "status", "card", "table", "chart", "serving", "csv", "how", "query")


def render(state: dict | None, unit: str) -> tuple:
    """The result outputs (RESULT_NAMES order) for a stored result, in this unit."""
    if not state:
        return (gr.update(),) * len(RESULT_NAMES)
    report, values = state["report"], {**state["values"], "unit": unit if unit in UNITS else "GB"}
    unit = values["unit"]
    best = best_plan(report)
    # NOTE: the plan's launch line is a `vllm serve` command: offered for vllm and generic, not for transformers.
    command = best["command"] if best and (report.get("target") or {}).get("engine") != "transformers" else ""
    return (
        headline_html(report),
        gr.update(value=command, visible=bool(command)),
        "",
        card_html(report),
        table_html(report, unit),
        chart_svg(report, unit),
        serving_html(report, unit),
        csv_link(report),
        how_markdown(report, unit),
        query_string(values),
    )


def error_state(message: str) -> tuple:
    """What failed and how to fix it, in the results area; stale results are cleared, the URL is kept."""
    box = (f'<div class="error-box" role="alert"><b>Could not estimate.</b> {esc(message)}'
           '<br><span class="muted">Catalog models (the examples below) always work, offline too.</span></div>')
    return ("", gr.update(value="", visible=False), box, "", "", "", "", "", "", gr.update())


def _run_page(*raw_values, oauth_token: gr.OAuthToken | None = None) -> tuple:
    raw = dict(zip((f.name for f in FIELDS), raw_values))
    if not raw.get("hf_token") and oauth_token is not None:
        raw["hf_token"] = oauth_token.token  # NOTE: a typed token wins over the signed-in one; neither is kept
    try:
        values, report = estimate_values(raw)
        state = {"report": report.to_dict(), "values": {**values, "hf_token": ""}}  # NOTE: the state never keeps the token
        return (state, *render(state, values["unit"]))
    except LlmmemError as exc:
        return (gr.update(), *error_state(str(exc)))
    except Exception as exc:  # NOTE: never a traceback with a visitor's input in the log
        return (gr.update(), *error_state(f"internal error ({exc.__class__.__name__}): please report this input"))


def run_page(*args, **kwargs) -> tuple:
    """The Estimate button: the values in FIELDS order (+ the signed-in token), then every result output."""
    return _run_page(*args, **kwargs)


run_page.__signature__ = inspect.Signature(
    [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for f in FIELDS]
    + [inspect.Parameter("oauth_token", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=gr.OAuthToken | None)]
)
run_page.__annotations__ = {"oauth_token": gr.OAuthToken | None}


def train_page(*args) -> str:
    """The fine-tuning button: the main form's model, GPU, unit and token, then TRAIN_FIELDS in order."""
    model, gpus, unit, hf_token, *train = args
    raw = {"model": model, "gpus": gpus, "hf_token": hf_token, **dict(zip((f.name for f in TRAIN_FIELDS), train))}
    try:
        return training_html(estimate_fine_tuning(training_values(raw)), unit if unit in UNITS else "GB")
    except LlmmemError as exc:
        return f'<div class="error-box" role="alert"><b>Could not estimate fine-tuning.</b> {esc(exc)}</div>'
    except Exception as exc:  # NOTE: never a traceback with a visitor's input in the log
        return f'<div class="error-box" role="alert">internal error ({esc(exc.__class__.__name__)}): please report this input</div>'


def switch_unit(state: dict | None, unit: str) -> tuple:
    """The unit switch: the stored result again in the other unit (no estimate, no library call)."""
    try:
        return render(state, unit if isinstance(unit, str) and unit in UNITS else "GB")
    except Exception:  # NOTE: a crafted call must not print a traceback; the page keeps what it shows
        return (gr.update(),) * len(RESULT_NAMES)


def check_page(command: str, gpus: str, hf_token: str) -> str:
    """The paste box: the verdict, or what is wrong with the command, as text in the page."""
    if not isinstance(command, str) or not command.strip():
        return '<p class="muted">Paste a command such as <code>vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2</code>.</p>'
    try:
        return check_html(check_command(command, gpus, hf_token))
    except gr.Error as exc:
        return f'<div class="error-box" role="alert"><b>Could not check it.</b> {exc.message}</div>'


def on_load(request: gr.Request) -> tuple:
    """Page load: only parse the link (instant); the estimate runs next, in the estimate queue."""
    query = dict(request.query_params) if request is not None else {}
    values, notes = values_from_query(query)
    note = ""
    if notes:
        note = '<div class="note-box" role="status">' + "<br>".join(esc(n) for n in notes) + "</div>"
    return (*(component_value(f, values[f.name]) for f in URL_FIELDS), note)


# ------------------------------------------------------------------------------------------- layout

CSS = """
.gradio-container { max-width: 1200px !important; margin: auto !important; }
footer { display: none !important; }
.headline { font-size: 1.05rem; font-weight: 500; padding: 10px 14px; border-radius: 10px;
  background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
.card h3 { margin: 4px 0; }
/* NOTE: contain: its min-content width is 0, so a wide table scrolls in its box instead of widening the page. */
.table-scroll { overflow-x: auto; max-width: 100%; contain: inline-size; }
.chart-box { margin: 0; contain: inline-size; }
.chart-box figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; max-width: 640px; height: auto; display: block; }
svg.chart .grid { stroke: var(--border-color-primary); stroke-width: 1; }
svg.chart text { fill: var(--body-text-color); font-size: 13px; }
svg.chart .tick, svg.chart .sub { fill: var(--body-text-color-subdued); font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.85rem; }
.legend i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.num-table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.num-table th, .num-table td { border: 1px solid var(--border-color-primary); padding: 6px 10px; text-align: left; }
.num-table th { background: var(--background-fill-secondary); font-weight: 600; }
.num-table .num { text-align: right; white-space: nowrap; }
.num-table td:first-child { white-space: nowrap; }
.error-box { border: 1px solid var(--error-border-color, #ef4444); background: var(--error-background-fill, #fef2f2);
  color: var(--error-text-color, #b91c1c); padding: 10px 14px; border-radius: 10px; }
.ok-box { border: 1px solid #16a34a; padding: 10px 14px; border-radius: 10px; }
.error-text { color: var(--error-text-color, #b91c1c); }
pre.fix-command { white-space: pre-wrap; word-break: break-all; margin: 4px 0 8px; }
.note-box { border: 1px solid var(--border-color-accent); padding: 8px 12px; border-radius: 10px; }
.muted { color: var(--body-text-color-subdued); }
.csv-link { display: inline-block; padding: 6px 14px; border-radius: 8px; text-decoration: none !important;
  border: 1px solid var(--button-secondary-border-color); background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color) !important; font-weight: 600; }
h1.title { font-size: 1.6rem; margin: 4px 0; }
#examples .row { flex-wrap: wrap; gap: 6px; }
#examples .row > button { flex: 0 1 auto !important; width: auto !important; min-width: 0 !important; white-space: nowrap; }
/* NOTE: an empty message box takes no room (and no gap) until it has something to say. */
#status:has(.prose:empty), #link-note:has(.prose:empty), #headline:has(.prose:empty) { display: none; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  h1.title { font-size: 1.05rem; }
  .intro { display: none; }
  .headline { font-size: 0.95rem; }
  #card-row { flex-wrap: wrap; }
  #card-row > * { min-width: 100% !important; }
}
"""
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")
# NOTE: Enter in any input of the form presses Estimate (the dropdowns commit their value first).
ENTER_JS = """
<script>
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.isComposing) return;
  const form = event.target.closest && event.target.closest("#form");
  if (!form || event.target.tagName === "TEXTAREA") return;
  setTimeout(() => document.querySelector("#estimate")?.click(), 150);
});
</script>
"""
# NOTE: runs in the browser after a good estimate: the URL (and the Space page's URL) carries its inputs.
SYNC_URL_JS = """
(query) => {
  if (query === null || query === undefined) return [query];
  history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  if (window.parent !== window) window.parent.postMessage({ queryString: query }, "https://huggingface.co");
  return [query];
}
"""


def example_picker(model: str) -> Callable[[], str]:
    """An example button's server half: it puts its model in the model box (the estimate follows)."""
    return lambda: model


def url_synced(query: Any) -> None:
    """The server half of the URL sync (the work is SYNC_URL_JS's, in the browser)."""
    # NOTE: a js-only event has no server function, and gradio 6.31 logs a traceback ("function has no backend
    # method") when a crafted call names it: this no-op, outside the queue, answers such a call quietly.


SYNC_URL = dict(fn=url_synced, js=SYNC_URL_JS, queue=False, api_visibility="private", preprocess=False)
EXAMPLES = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3",
            "openai/gpt-oss-20b", "70B"]

with gr.Blocks(title="llmmem: GPU memory for LLMs") as demo:
    gr.HTML("<h1 class='title'>llmmem: which GPUs, how many, how to launch</h1><p class='intro'>A catalog model, any "
            "Hugging Face model ID or URL, or a parameter count (<code>70B</code>). <b>GB = 10^9 bytes</b>, "
            "<b>GiB = 2^30 bytes</b>.</p>", elem_id="top")
    state = gr.State(None)
    components: dict[str, gr.components.Component] = {}
    with gr.Column(elem_id="form"):
        with gr.Row(equal_height=True):
            for name in ("model", "gpus"):
                components[name] = FIELD[name].build()
            button = gr.Button("Estimate", variant="primary", elem_id="estimate", min_width=110, scale=0)
        with gr.Row(equal_height=True):
            for name in ("context", "concurrency", "engine"):
                components[name] = FIELD[name].build()
        with gr.Accordion("More settings: weights, KV cache, parallelism, token", open=False, elem_id="more"):
            with gr.Row():
                for name in ("weights", "kv_cache_dtype", "tp", "pp", "gpu_memory_utilization"):
                    components[name] = FIELD[name].build()
            components["precisions"] = FIELD["precisions"].build()
            components["hf_token"] = FIELD["hf_token"].build()
            if ON_SPACE:
                gr.LoginButton()
    headline_box = gr.HTML(elem_id="headline")
    command_box = gr.Textbox(label="Launch it with vLLM (copy)", interactive=False, buttons=["copy"], visible=False, elem_id="command")
    status = gr.HTML(elem_id="status")
    link_note = gr.HTML(elem_id="link-note")
    with gr.Row(elem_id="card-row"):
        card = gr.HTML(elem_id="card")
        components["unit"] = FIELD["unit"].build()
    table = gr.HTML(elem_id="table")
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            chart = gr.HTML(elem_id="chart")
        with gr.Column(scale=2, min_width=300):
            serving_box = gr.HTML(elem_id="serving")
    csv_box = gr.HTML(elem_id="csv")
    with gr.Accordion("How this was computed", open=False):
        how = gr.Markdown(elem_id="how")
    with gr.Accordion("Fine-tuning: memory for one training step (the model and GPU above)", open=False, elem_id="train"):
        train_components = {}
        with gr.Row():
            for f in TRAIN_FIELDS[:4]:
                train_components[f.name] = f.build()
        with gr.Row():
            for f in TRAIN_FIELDS[4:]:
                train_components[f.name] = f.build()
        train_button = gr.Button("Estimate fine-tuning", elem_id="train-button", size="sm")
        train_box = gr.HTML(elem_id="train-result")
    with gr.Accordion("Will my `vllm serve` command start? Paste it", open=False, elem_id="check"):
        vllm_command = gr.Textbox(label="vllm serve command (the GPU above)", lines=2, elem_id="vllm-command",
                                  placeholder="vllm serve meta-llama/Llama-3.1-70B --tensor-parallel-size 2")
        check_button = gr.Button("Check the command", elem_id="check-button", size="sm")
        check_box = gr.HTML(elem_id="check-result")
    query = gr.Textbox(visible=False)
    # NOTE: buttons, not gr.Examples: its own handler logs a traceback for a crafted call; these take no input.
    with gr.Column(elem_id="examples"):
        gr.HTML("<b>Examples</b> <span class='muted'>(click one: it estimates; they work offline)</span>")
        with gr.Row():
            example_buttons = [gr.Button(e, size="sm", variant="secondary", scale=0) for e in EXAMPLES]

    inputs = [components[f.name] for f in FIELDS]
    results = [state, headline_box, command_box, status, card, table, chart, serving_box, csv_box, how, query]
    # NOTE: preprocess=False on every event of the page: the values reach the parsers above as sent, so a crafted
    # call with a value no component offers gets the library's one-line answer, not gradio's check and its traceback.
    estimate_event = dict(fn=run_page, inputs=inputs, outputs=results, api_visibility="private", preprocess=False,
                          concurrency_limit=8, concurrency_id="estimate")
    button.click(**estimate_event).then(inputs=[query], **SYNC_URL)
    for example, example_button in zip(EXAMPLES, example_buttons):
        example_button.click(example_picker(example), outputs=[components["model"]], queue=False, api_visibility="private") \
            .then(**estimate_event).then(inputs=[query], **SYNC_URL)
    components["unit"].change(switch_unit, inputs=[state, components["unit"]], outputs=results[1:],
                              api_visibility="private", concurrency_limit=None, preprocess=False).then(inputs=[query], **SYNC_URL)
    # NOTE: the page load only reads the link (no queue wait, no Hub call); the estimate then joins the queue.
    demo.load(on_load, inputs=None, outputs=[components[f.name] for f in URL_FIELDS] + [link_note], api_visibility="private",
              concurrency_limit=None).then(**estimate_event).then(inputs=[query], **SYNC_URL)
    check_event = dict(fn=check_page, inputs=[vllm_command, components["gpus"], components["hf_token"]], outputs=[check_box],
                       api_visibility="private", concurrency_limit=8, concurrency_id="estimate", preprocess=False)
    check_button.click(**check_event)
    train_button.click(train_page, inputs=[components["model"], components["gpus"], components["unit"], components["hf_token"],
                                           *(train_components[f.name] for f in TRAIN_FIELDS)],
                       outputs=[train_box], api_visibility="private", concurrency_limit=8, concurrency_id="estimate",
                       preprocess=False)
    vllm_command.submit(**check_event)
    # NOTE: the API: the same JSON object as `python -m llmmem ... --json`; and the `vllm serve` check.
    gr.api(estimate, api_name="estimate", concurrency_limit=8, concurrency_id="estimate")
    gr.api(check_command, api_name="check_vllm_serve", concurrency_limit=8, concurrency_id="estimate")
    gr.api(estimate_training_api, api_name="estimate_training", concurrency_limit=8, concurrency_id="estimate")

def _pad_missing_inputs(validate: Callable) -> Callable:
    """gradio's input-count check, after filling the values a call left out with each input's default."""

    def check(block_fn, inputs: list) -> None:
        # NOTE: gradio 6.31 raises ValueError (a traceback in the log, {"error": null} to the caller) when an HTTP
        # call sends fewer values than an endpoint has inputs; every input here has a default, so it takes it.
        inputs.extend(getattr(block, "value", None) for block in block_fn.inputs[len(inputs):])
        validate(block_fn, inputs)

    return check


demo.validate_inputs = _pad_missing_inputs(demo.validate_inputs)

# NOTE: run history would keep the inputs (a token too) in the browser: off. Sessions: each API call makes
# one (about 90 KB); 500 bound that memory to about 45 MB instead of gradio's default 10,000.
LAUNCH_KWARGS = {"theme": THEME, "css": CSS, "head": ENTER_JS, "run_history": False, "state_session_capacity": 500}

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **LAUNCH_KWARGS,
    )
