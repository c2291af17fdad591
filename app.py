"""llmmem's Gradio app: which GPUs, how many, and how to launch, for a model at a target context and load.

Pure presentation: every figure comes from the library (llmmem.resolve -> llmmem.report); this file only
turns the report into a headline, a table, a chart and text. The page's inputs are declared once in FIELDS
(name, component, default, URL key, parser); the share link, the callbacks and the /estimate API are all
derived from that table. Nothing is fetched at import or start-up; a catalog model answers without the
network, and a visitor's text never reaches the server's file system (resolve(..., allow_local_files=False)).
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
from dataclasses import dataclass, replace
from typing import Any, Callable
from urllib.parse import urlencode

import gradio as gr

from llmmem import catalog
from llmmem.errors import InputError, LlmmemError
from llmmem.gpus import GPUS, get_gpu
from llmmem.precisions import DEFAULT_PRECISIONS, PRECISIONS, parse_precisions
from llmmem.quantization import FORMATS
from llmmem.report import UNITS, build_report, format_count
from llmmem.resolve import resolve
from llmmem.serving import ServingOptions, estimate_serving

ON_SPACE = bool(os.environ.get("SPACE_ID"))
UNIT_MEANING = {"GB": "10^9 bytes", "GiB": "2^30 bytes"}
SOURCE_LABELS = {"catalog": "bundled catalog", "hub": "Hugging Face Hub", "parameter-count": "your number", "config": "config.json"}

# NOTE: bounds checked before any work: a text longer than these is refused at once, whatever it holds.
MAX_TEXT = {"model": 300, "gpus": 100, "hf_token": 300, "precisions": 100}
MAX_CONTEXT = 10_000_000
MAX_CONCURRENCY = 100_000
MAX_PARALLEL = 64


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


def _choice(name: str, allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = raw.strip().lower() if isinstance(raw, str) else raw
        if value not in allowed:
            shown = raw if isinstance(raw, str) and len(raw) <= 40 else f"a {type(raw).__name__}"
            raise InputError(f"unknown {name} {shown!r}: use one of {', '.join(allowed)}")
        return value

    return parse


def _whole(name: str, low: int, high: int, words: tuple[str, ...] = ()) -> Callable[[Any], int | str]:
    """A whole number in [low, high] from text or a number (7, 7.0, "7", "7e3"), or one of `words`."""

    def parse(raw: Any) -> int | str:
        if isinstance(raw, str) and raw.strip().lower() in words:
            return raw.strip().lower()
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise InputError(f"{name} must be a whole number{' or ' + ' / '.join(words) if words else ''}, got {type(raw).__name__}")
        text = raw.strip() if isinstance(raw, str) else raw
        if isinstance(text, str) and len(text) > 30:
            raise InputError(f"{name} is not a number: give a whole number from {low:,} to {high:,}")
        try:
            number = float(text)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{name} {str(text)[:30]!r} is not a number: give a whole number from {low:,} to {high:,}"
                             + (f" or {' / '.join(words)}" if words else "")) from None
        if not math.isfinite(number) or number != int(number) or not low <= number <= high:
            raise InputError(f"{name} must be a whole number from {low:,} to {high:,}, got {str(text)[:30]}")
        return int(number)

    return parse


def _fraction(name: str) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)) or (isinstance(raw, str) and len(raw) > 30):
            raise InputError(f"{name} must be a number above 0 and at most 1, such as 0.9")
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            value = math.nan
        if not math.isfinite(value) or not 0 < value <= 1:
            raise InputError(f"{name} must be a number above 0 and at most 1, such as 0.9; got {str(raw)[:30]}")
        return value

    return parse


def _precision_list(raw: Any) -> str:
    if isinstance(raw, (list, tuple)):
        if not all(isinstance(item, str) for item in raw) or len(raw) > len(PRECISIONS) * 2:
            raise InputError("precisions must be names such as fp16, int4")
        raw = ",".join(raw)
    text = _text("precisions", raw)
    names = [p.name for p in parse_precisions(text or None)]  # InputError names the unknown one
    return ",".join(names)


ENGINE_NAMES = ("generic", "vllm")
WEIGHT_NAMES = ("auto", *FORMATS)
KV_NAMES = ("auto", "fp16", "bf16", "fp8")
UNIT_NAMES = tuple(UNITS)
GPU_CHOICES = [(f"{g.name} ({g.memory_bytes / 2**30:.2f} GiB)", g.name) for g in GPUS]
CONTEXT_CHOICES = ["max", "2048", "4096", "8192", "32768", "131072"]
CONCURRENCY_CHOICES = ["max", "1", "4", "8", "16", "32", "64"]
PARALLEL_CHOICES = ["auto", "1", "2", "4", "8"]


@dataclass(frozen=True)
class Field:
    """One input of the page: its API name, URL key, default, parser, and how to build its component."""

    name: str  # the /estimate parameter (the library's request field)
    url: str | None  # key in the share link; None: never in the URL (the token)
    default: Any
    parse: Callable[[Any], Any]  # raw value (URL text, API JSON, component value) -> clean value, or InputError
    component: Callable[..., gr.components.Component]
    api_type: Any = str

    def build(self) -> gr.components.Component:
        return self.component(value=self.default, elem_id=self.name)


FIELDS: tuple[Field, ...] = (
    Field("model", "model", "meta-llama/Llama-3.1-8B", lambda raw: _text("model", raw),
          lambda **kw: gr.Dropdown(choices=catalog.names(), allow_custom_value=True, filterable=True, min_width=240,
                                   label="Model: catalog name, Hub ID or URL, or a count like 70B", **kw)),
    Field("gpus", "gpu", "H100-80GB", lambda raw: _text("gpus", raw),
          lambda **kw: gr.Dropdown(choices=GPU_CHOICES, allow_custom_value=True, filterable=True, min_width=160,
                                   label="GPU, or a size (48GB, 80GiB)", **kw)),
    Field("context", "context", "8192", _whole("context", 1, MAX_CONTEXT, ("max",)),
          lambda **kw: gr.Dropdown(choices=CONTEXT_CHOICES, allow_custom_value=True, min_width=110,
                                   label="Context, tokens (max: largest)", **kw),
          int | str),
    Field("concurrency", "concurrency", "1", _whole("concurrency", 1, MAX_CONCURRENCY, ("max",)),
          lambda **kw: gr.Dropdown(choices=CONCURRENCY_CHOICES, allow_custom_value=True, min_width=110,
                                   label="Concurrent sequences (max: most)", **kw),
          int | str),
    Field("engine", "engine", "generic", _choice("engine", ENGINE_NAMES),
          lambda **kw: gr.Radio(list(ENGINE_NAMES), label="Engine", min_width=150, **kw)),
    Field("weights", "weights", "auto", _choice("weights format", WEIGHT_NAMES),
          lambda **kw: gr.Dropdown(list(WEIGHT_NAMES), label="Weights format", info="auto: the checkpoint's own",
                                   min_width=120, **kw)),
    Field("kv_cache_dtype", "kv", "auto", _choice("KV-cache dtype", KV_NAMES),
          lambda **kw: gr.Dropdown(list(KV_NAMES), label="KV-cache dtype", min_width=120, **kw)),
    Field("tp", "tp", "auto", _whole("tensor parallel size", 1, MAX_PARALLEL, ("auto",)),
          lambda **kw: gr.Dropdown(PARALLEL_CHOICES, allow_custom_value=True, label="Tensor parallel", min_width=100, **kw),
          int | str),
    Field("pp", "pp", "auto", _whole("pipeline parallel size", 1, MAX_PARALLEL, ("auto",)),
          lambda **kw: gr.Dropdown(PARALLEL_CHOICES, allow_custom_value=True, label="Pipeline parallel", min_width=100, **kw),
          int | str),
    Field("gpu_memory_utilization", "util", 0.9, _fraction("gpu_memory_utilization"),
          lambda **kw: gr.Slider(0.1, 1.0, step=0.01, label="gpu_memory_utilization (vLLM)", min_width=160, **kw),
          float),
    Field("precisions", "precisions", ",".join(DEFAULT_PRECISIONS), _precision_list,
          lambda value, **kw: gr.CheckboxGroup(choices=[(p.label, p.name) for p in PRECISIONS.values()],
                                               value=value.split(","), label="Precisions in the table", **kw)),
    Field("unit", "unit", "GB", _choice("unit", tuple(u.lower() for u in UNIT_NAMES)),
          lambda **kw: gr.Radio(list(UNIT_NAMES), label="Units", info="GB = 10^9 bytes, GiB = 2^30 bytes", min_width=120, **kw)),
    Field("hf_token", None, "", lambda raw: _text("hf_token", raw),
          lambda **kw: gr.Textbox(type="password", placeholder="hf_...",
                                  label="Hugging Face access token: used for this request only, never stored or logged", **kw)),
)
FIELD = {f.name: f for f in FIELDS}
URL_FIELDS = tuple(f for f in FIELDS if f.url)


def parse_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Every field's raw value -> clean values; the first bad one raises InputError naming it."""
    values = {f.name: f.parse(raw.get(f.name, f.default)) for f in FIELDS}
    values["unit"] = {u.lower(): u for u in UNIT_NAMES}[values["unit"]]
    return values


def query_string(values: dict[str, Any]) -> str:
    """The share link's query for these values: only what differs from the defaults (never the token)."""
    defaults = parse_values({})
    return urlencode({f.url: values[f.name] for f in URL_FIELDS if values[f.name] != defaults[f.name]})


def values_from_query(query: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A share link's parameters -> values; what cannot be used falls back to the default, with a note."""
    raw, notes = {}, []
    for f in URL_FIELDS:
        if f.url not in query:
            continue
        try:
            f.parse(query[f.url])
            raw[f.name] = query[f.url]
        except LlmmemError as exc:
            notes.append(f"ignored {f.url}= from the link ({exc}); using {f.default}")
    return parse_values(raw), notes


# ------------------------------------------------------------------------------------ the library


def _serving_options(values: dict[str, Any], gpu) -> ServingOptions:
    weights = values["weights"]
    dtype = {"fp32": "float32", "fp16": None}.get(weights) if weights in ("fp32", "fp16") else None
    quantization = weights if weights not in ("auto", "fp32", "fp16") else None
    context = values["context"] if values["context"] != "max" else None
    return ServingOptions(
        gpu=gpu,
        engine=None if values["engine"] == "generic" else values["engine"],
        tp=1 if values["tp"] == "auto" else values["tp"],
        pp=1 if values["pp"] == "auto" else values["pp"],
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=values["kv_cache_dtype"],
        context=context,
        batch=1 if values["concurrency"] == "max" else values["concurrency"],
        gpu_memory_utilization=values["gpu_memory_utilization"],
        max_model_len=context if values["engine"] == "vllm" else None,
    )


# NOTE: each precision row's serving figures have the weights in that precision (weights format name).
ROW_WEIGHTS = {"fp32": "fp32", "fp16": "fp16", "fp8": "fp8", "int8": "w8a8", "int4": "w4a16"}


def answer(values: dict[str, Any]) -> tuple[dict, list[dict | None]]:
    """Clean values -> (the report: the CLI's --json object, each precision's serving terms per GPU)."""
    gpus = [get_gpu(name) for name in values["gpus"].split(",") if name.strip()][:4] or [get_gpu("H100-80GB")]
    # NOTE: a catalog model answers from the bundled catalog, without a network call; no visitor text is a path.
    resolved = resolve(values["model"], token=values["hf_token"] or None, prefer_catalog=True, allow_local_files=False)
    options = _serving_options(values, gpus[0]) if resolved.spec.has_shape else None
    report = build_report(resolved, values["precisions"], gpus, options)
    per_precision: list[dict | None] = []
    for row in report["precisions"]:
        try:
            per_precision.append(estimate_serving(resolved.spec, replace(options, dtype=None, quantization=ROW_WEIGHTS[row["name"]]))
                                 if options else None)
        except LlmmemError:
            per_precision.append(None)
    return report, per_precision


def estimate_values(raw: dict[str, Any]) -> tuple[dict[str, Any], dict, list[dict | None]]:
    values = parse_values(raw)
    return (values, *answer(values))


def _api_estimate(*args, **kwargs) -> dict:
    raw = dict(zip((f.name for f in FIELDS), args))
    raw.update(kwargs)
    try:
        return estimate_values(raw)[1]
    except LlmmemError as exc:
        # NOTE: one line, as text (never markup), and no traceback in the server log.
        raise gr.Error(html.escape(str(exc), quote=False), print_exception=False) from None
    except Exception as exc:  # NOTE: a bug must not print a visitor's input in a traceback either
        raise gr.Error(f"internal error ({exc.__class__.__name__}): please report the input that caused it",
                       print_exception=False) from None


def _make_api() -> Callable[..., dict]:
    """The /estimate function, its parameters (names, types, defaults) derived from FIELDS."""
    parameters = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.api_type)
                  for f in FIELDS]

    def estimate(*args, **kwargs) -> dict:
        return _api_estimate(*args, **kwargs)

    estimate.__signature__ = inspect.Signature(parameters, return_annotation=dict)
    estimate.__annotations__ = {**{f.name: f.api_type for f in FIELDS}, "return": dict}
    estimate.__doc__ = (
        "The estimate as the CLI's --json object. model: a catalog name, Hub ID or URL, or a count like 70B. "
        "gpus: a catalog GPU or a size like 48GB (comma-separated for several). context / concurrency: a whole "
        "number or 'max'. tp / pp: a whole number or 'auto'. hf_token: used for this request only, never stored."
    )
    return estimate


estimate = _make_api()


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


def headline(report: dict, values: dict) -> str:
    """One sentence that answers the question for the chosen GPU, engine and target."""
    gpu = report["gpus"][0]["gpu"]
    parts = []
    for row in report["precisions"]:
        count = row["gpus"][0]
        layout = f"tensor parallel {count['tp_count']}" if count["tp_count"] > 1 else "one GPU"
        parts.append(f"at {row['label']}, {count['tp_count']} × {gpu} ({layout})")
    return f"{report['model']}: " + "; ".join(parts) + "."


def table_html(report: dict, unit: str) -> str:
    headers = ["Precision", f"Weights ({unit})", f"Rule of thumb ×1.2 ({unit})", f"Largest layer ({unit})", f"Training, Adam ({unit})"]
    headers += [f"{g['gpu']}: GPUs needed (tensor-parallel)" for g in report["gpus"]]
    serving = any(row.get("serving") for row in report["precisions"])
    vllm = serving and report.get("serving", {}).get("engine") == "vllm"
    if serving and vllm:
        headers += ["KV-cache tokens per GPU", "Max concurrency"]
    elif serving:
        headers += [f"Serving per GPU ({unit})", "Fits"]
    rows = []
    for row in report["precisions"]:
        cells = [esc(row["label"]), number(row["weights_bytes"], unit), number(row["seed_formula_bytes"], unit),
                 number(row["largest_layer_bytes"], unit), number(row["training_adam_bytes"], unit)]
        for count in row["gpus"]:
            nodes = f" ({count['nodes']} nodes of 8)" if count["nodes"] > 1 else ""
            cells.append(f"{count['tp_count']}{nodes}")
        s = row.get("serving")
        if serving:
            if s is None:
                cells += ["n/a", "n/a"]
            elif vllm:
                cells += [f"{s['kv_cache_tokens']:,}", f"{s['max_concurrency']:,}"]
            else:
                cells += [number(s["total_bytes_per_gpu"], unit), "yes" if s["fits"] else "no"]
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
CHART_W, CHART_H, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 480, 300, 14, 44, 52


def chart_bars(report: dict) -> list[dict]:
    """Per precision, what one GPU holds (stacked parts, bytes), then the GPU's memory (or vLLM's budget)."""
    bars = []
    for row in report["precisions"]:
        s = row.get("serving")
        if s:
            parts = {"weights": s["weights_bytes_per_gpu"], "KV cache": s["kv_cache_bytes_per_gpu"],
                     "activations": s["activation_bytes"], "runtime (CUDA, NCCL)": s["non_torch_bytes"]}
            note = f"max {s['max_concurrency']:,} seqs" if s.get("engine") == "vllm" else None
        else:
            parts = {"weights": row["weights_bytes"], "rule-of-thumb margin (×1.2)": row["seed_formula_bytes"] - row["weights_bytes"]}
            note = None
        bars.append({"label": row["name"], "title": row["label"], "parts": parts, "note": note})
    gpu = report["gpus"][0]
    serving = report.get("serving")
    if serving and serving.get("engine") == "vllm":
        bars.append({"label": gpu["gpu"], "title": f"{gpu['gpu']} × gpu_memory_utilization {serving['gpu_memory_utilization']}",
                     "parts": {"GPU memory": serving["requested_memory_bytes"]}, "note": f"× {serving['gpu_memory_utilization']}"})
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
    tick = 0.0
    while tick <= y_max + step / 2:
        out.append(f'<line x1="{CHART_LEFT}" x2="{CHART_W}" y1="{y(tick):.2f}" y2="{y(tick):.2f}" class="grid"/>'
                   f'<text x="{CHART_LEFT - 6}" y="{y(tick) + 4:.2f}" class="tick" text-anchor="end">{tick:,.0f}</text>')
        tick += step
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
                       f'<title>{esc(bar["title"])}: {esc(part)} {number(value, unit)} {unit}</title></rect>')
            base += value / scale
        centre = x + width / 2
        total = sum(bar["parts"].values())
        out.append(f'<text x="{centre:.2f}" y="{CHART_H - CHART_BOTTOM + 16}" class="label" text-anchor="middle">{esc(bar["label"])}</text>')
        out.append(f'<text x="{centre:.2f}" y="{CHART_H - CHART_BOTTOM + 32}" class="sub" text-anchor="middle">'
                   f'{esc(bar["note"] or number(total, unit) + " " + unit)}</text>')
    out.append("</svg>")
    present = [part for part in CHART_PARTS if any(b["parts"].get(part, 0) > 0 for b in bars)]
    gpu_name = "GPU memory" if not (report.get("serving") or {}).get("engine") == "vllm" else "vLLM's budget (utilization × GPU memory)"
    legend = "".join(f'<span class="key"><i style="background:{CHART_PARTS[p]}"></i>{esc(p)}</span>' for p in present)
    legend += f'<span class="key"><i style="background:{GPU_FILL}"></i>{esc(gpu_name)}</span>'
    caption = "What one GPU holds at each precision, beside the GPU"
    return f'<figure class="chart-box"><figcaption>{caption}</figcaption>{"".join(out)}<div class="legend">{legend}</div></figure>'


def serving_html(report: dict, unit: str) -> str:
    s = report.get("serving")
    if not s:
        return '<p class="muted">Serving estimate: needs the model\'s config (a catalog or Hub model), not only a parameter count.</p>'
    engine = "vLLM" if s.get("engine") == "vllm" else "generic"
    context = s.get("max_model_len") or s.get("context")
    rows = [
        ["weights", number(s["weights_bytes_per_gpu"], unit)],
        ["KV cache", number(s["kv_cache_bytes_per_gpu"], unit)],
        ["activations (peak)", number(s["activation_bytes"], unit)],
        ["runtime (CUDA context, NCCL)", number(s["non_torch_bytes"], unit)],
        [f"total per GPU (of {number(s['gpu_memory_bytes'], unit)})", number(s["total_bytes_per_gpu"], unit)],
        ["KV cache per token (bytes)", f"{s['kv_cache_bytes_per_token']:,}"],
        ["KV-cache tokens per GPU", f"{s['kv_cache_tokens']:,}"],
        [f"max concurrency at {context:,} tokens", f"{s['max_concurrency']:,}"],
        ["fits", "yes" if s["fits"] else "no"],
    ]
    settings = f"TP {s['tp']} × PP {s['pp']} · weights {esc(s['weights_format'])} · KV cache {esc(s['kv_cache_dtype'])}"
    return (f'<h4>Serving on {s["gpus"]} × {esc(s["gpu"])} ({engine} estimate)</h4><p>{settings}</p>'
            + html_table(["Per GPU", f"Value ({unit})"], [[esc(a), b] for a, b in rows], "num-table serving-table"))


CSV_HEADER = ["model", "parameters", "precision", "bits", "weights_bytes", "seed_formula_bytes", "largest_layer_bytes",
              "training_adam_bytes", "gpu", "gpu_memory_bytes", "gpus_needed", "gpus_tensor_parallel", "nodes",
              "serving_gpu", "serving_tp", "serving_pp", "serving_weights_bytes_per_gpu", "serving_kv_cache_bytes_per_gpu",
              "serving_activation_bytes", "serving_non_torch_bytes", "serving_total_bytes_per_gpu", "serving_fits",
              "serving_kv_cache_tokens", "serving_max_concurrency"]


def csv_text(report: dict) -> str:
    """Every column the page shows, as exact bytes (unit-free): one row per precision and GPU."""
    memory = {g["gpu"]: g["memory_bytes"] for g in report["gpus"]}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report["precisions"]:
        s = row.get("serving") or {}
        serving = [s.get(k) for k in ("gpu", "tp", "pp", "weights_bytes_per_gpu", "kv_cache_bytes_per_gpu", "activation_bytes",
                                      "non_torch_bytes", "total_bytes_per_gpu", "fits", "kv_cache_tokens", "max_concurrency")]
        for count in row["gpus"]:
            writer.writerow([report["model"], report["parameters"], row["name"], row["bits"], row["weights_bytes"],
                             row["seed_formula_bytes"], row["largest_layer_bytes"], row["training_adam_bytes"], count["gpu"],
                             memory.get(count["gpu"]), count["count"], count["tp_count"], count["nodes"], *serving])
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
                     f"**{number(m, unit)} {unit}** | {w:,} bytes = {number(w, unit)} {unit} |")
    lines += [
        "",
        f"**GPUs needed** = ceil(M / GPU memory). A {gpu['label']} holds {gpu['memory_bytes']:,} bytes as CUDA reports it "
        f"({number(gpu['memory_bytes'], 'GB')} GB = {number(gpu['memory_bytes'], 'GiB')} GiB). **Tensor-parallel**: the smallest "
        "size that holds M and divides the attention heads; beyond 8, nodes of 8.",
    ]
    serving = report.get("serving")
    if serving:
        lines += ["", "**Serving** (the chart, the serving columns and panel):", *(f"- {note}" for note in serving.get("notes") or [])]
    lines += ["", f"Units: {unit} = {UNIT_MEANING[unit]}. GPU sizes are what CUDA reports: an \"80 GB\" card holds about 80 GiB."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- callbacks

RESULT_NAMES = ("headline", "status", "card", "table", "chart", "serving", "csv", "how", "query")


def render(state: dict | None, unit: str) -> tuple:
    """The result outputs (RESULT_NAMES order) for a stored result, in this unit."""
    if not state:
        return (gr.update(),) * len(RESULT_NAMES)
    report, values = state["report"], {**state["values"], "unit": unit if unit in UNITS else "GB"}
    unit = values["unit"]
    return (
        f'<div class="headline" id="answer">{esc(headline(report, values))}</div>',
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
    return ("", box, "", "", "", "", "", "", gr.update())


def _run_page(*raw_values, oauth_token: gr.OAuthToken | None = None) -> tuple:
    raw = dict(zip((f.name for f in FIELDS), raw_values))
    if not raw.get("hf_token") and oauth_token is not None:
        raw["hf_token"] = oauth_token.token  # NOTE: a typed token wins over the signed-in one; neither is kept
    try:
        values, report, per_precision = estimate_values(raw)
        for row, serving in zip(report["precisions"], per_precision):
            row["serving"] = serving  # NOTE: the page's copy only; /estimate returns the library's report as is
        state = {"report": report, "values": {**values, "hf_token": ""}}  # NOTE: the state never keeps the token
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


def component_value(f: Field, value: Any) -> Any:
    """A clean value as its component holds it: the checkbox group a list, dropdowns text."""
    if f.name == "precisions":
        return value.split(",")
    return value if isinstance(value, float) else str(value)


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
.headline { font-size: 1.15rem; font-weight: 600; padding: 10px 14px; border-radius: 10px;
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
.error-box { border: 1px solid var(--error-border-color, #ef4444); background: var(--error-background-fill, #fef2f2);
  color: var(--error-text-color, #b91c1c); padding: 10px 14px; border-radius: 10px; }
.note-box { border: 1px solid var(--border-color-accent); padding: 8px 12px; border-radius: 10px; }
.muted { color: var(--body-text-color-subdued); }
.csv-link { display: inline-block; padding: 6px 14px; border-radius: 8px; text-decoration: none !important;
  border: 1px solid var(--button-secondary-border-color); background: var(--button-secondary-background-fill);
  color: var(--button-secondary-text-color) !important; font-weight: 600; }
h1.title { font-size: 1.6rem; margin: 4px 0; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  h1.title { font-size: 1.15rem; }
  .intro { display: none; }
  .headline { font-size: 1rem; }
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
  if (query === null || query === undefined) return;
  history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  if (window.parent !== window) window.parent.postMessage({ queryString: query }, "https://huggingface.co");
}
"""
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
        with gr.Row(equal_height=True):
            for name in ("context", "concurrency", "engine"):
                components[name] = FIELD[name].build()
            button = gr.Button("Estimate", variant="primary", elem_id="estimate", min_width=110, scale=0)
        with gr.Accordion("More: weights, KV cache, parallelism, precisions, access token", open=False, elem_id="more"):
            with gr.Row():
                for name in ("weights", "kv_cache_dtype", "tp", "pp", "gpu_memory_utilization"):
                    components[name] = FIELD[name].build()
            components["precisions"] = FIELD["precisions"].build()
            components["hf_token"] = FIELD["hf_token"].build()
            if ON_SPACE:
                gr.LoginButton()
    headline_box = gr.HTML(elem_id="headline")
    status = gr.HTML(elem_id="status")
    link_note = gr.HTML(elem_id="link-note")
    with gr.Row():
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
    query = gr.Textbox(visible=False)
    examples = gr.Examples([[e] for e in EXAMPLES], inputs=[components["model"]], example_labels=EXAMPLES,
                           label="Examples (click one: it estimates; they work offline)")

    inputs = [components[f.name] for f in FIELDS]
    results = [state, headline_box, status, card, table, chart, serving_box, csv_box, how, query]
    estimate_event = dict(fn=run_page, inputs=inputs, outputs=results, api_visibility="private",
                          concurrency_limit=8, concurrency_id="estimate")
    button.click(**estimate_event).then(None, inputs=[query], js=SYNC_URL_JS)
    examples.load_input_event.then(**estimate_event).then(None, inputs=[query], js=SYNC_URL_JS)
    components["unit"].change(lambda st, u: render(st, u), inputs=[state, components["unit"]], outputs=results[1:],
                              api_visibility="private", concurrency_limit=None).then(None, inputs=[query], js=SYNC_URL_JS)
    # NOTE: the page load only reads the link (no queue wait, no Hub call); the estimate then joins the queue.
    demo.load(on_load, inputs=None, outputs=[components[f.name] for f in URL_FIELDS] + [link_note], api_visibility="private",
              concurrency_limit=None).then(**estimate_event).then(None, inputs=[query], js=SYNC_URL_JS)
    # NOTE: the API: the same JSON object as `python -m llmmem ... --json`.
    gr.api(estimate, api_name="estimate", concurrency_limit=8, concurrency_id="estimate")

# NOTE: run history would keep the inputs (a token too) in the browser: off. Sessions: each API call makes
# one (about 90 KB); 500 bound that memory to about 45 MB instead of gradio's default 10,000.
LAUNCH_KWARGS = {"theme": THEME, "css": CSS, "head": ENTER_JS, "run_history": False, "state_session_capacity": 500}

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **LAUNCH_KWARGS,
    )
