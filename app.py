"""llmmem's Gradio app: how much GPU memory a model needs, by precision, and how many GPUs.

Pure presentation: every figure comes from llmmem.resolve.resolve -> llmmem.report.build_report; this
file only turns the report into a card, a table, a chart and text. Nothing is fetched at import or
start-up; a catalog model answers without the network. Run `python app.py`, open http://127.0.0.1:7860.
"""

import csv
import hashlib
import os
import re
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from llmmem import catalog
from llmmem.errors import LlmmemError
from llmmem.gpus import GPUS, get_gpu
from llmmem.precisions import DEFAULT_PRECISIONS, PRECISIONS
from llmmem.report import UNITS, build_report, format_bytes, format_count, table_rows
from llmmem.resolve import resolve
from llmmem.serving import ServingOptions

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B"
DEFAULT_GPU = "H100-80GB"
DEFAULT_CONTEXT = 8192
ENGINES = {"generic": None, "vLLM": "vllm"}
KV_DTYPES = ("auto", "fp16", "bf16", "fp8")
TP_SIZES = (1, 2, 4, 8)
# What the weights are served as: the checkpoint's own format, a dtype, or a quantization (ServingOptions).
SERVE_AS = {
    "checkpoint's own": (None, None),
    "bf16": ("bfloat16", None),
    "fp16": ("float16", None),
    "fp32": ("float32", None),
    "fp8": (None, "fp8"),
    "int8 (W8A8)": (None, "w8a8"),
    "int4 (W4A16 / GPTQ)": (None, "w4a16"),
    "int4 (AWQ)": (None, "awq"),
    "nf4 (bitsandbytes)": (None, "bnb-nf4"),
    "mxfp4": (None, "mxfp4"),
}
SOURCE_LABELS = {
    "catalog": "bundled catalog",
    "hub": "Hugging Face Hub",
    "parameter-count": "your number",
    "config": "config.json",
}
UNIT_MEANING = {"GB": "10^9 bytes", "GiB": "2^30 bytes"}
CHART_COLORS = {"fits on one GPU": "#16a34a", "needs more than one GPU": "#ea580c", "GPU capacity": "#6366f1"}
ON_SPACE = bool(os.environ.get("SPACE_ID"))

# Labels for the serving object's keys; any other key is shown with its own name.
SERVING_SKIP = {"engine", "gpu", "gpus", "stages", "notes", "max_concurrency", "gpu_memory_bytes", "tp", "pp", "weights_format",
                "kv_cache_dtype", "batch", "context", "max_model_len", "gpu_memory_utilization", "dtype_bits", "dtype_bytes"}
SERVING_LABELS = {
    "weights_bytes_per_gpu": "weights",
    "activation_bytes": "activations (peak)",
    "non_torch_bytes": "non-torch memory (CUDA context, NCCL)",
    "cuda_context_bytes": "CUDA context",
    "non_kv_bytes": "everything but the KV cache",
    "requested_memory_bytes": "gpu_memory_utilization × GPU memory",
    "kv_cache_bytes_per_gpu": "KV cache",
    "kv_cache_bytes_per_token": "KV cache per token",
    "kv_cache_tokens": "KV cache room (tokens)",
    "total_bytes_per_gpu": "**total**",
    "fits": "fits on the GPU",
}


def model_choices() -> list[str]:
    return catalog.names()


def _precision_names(precisions) -> list[str]:
    if precisions is None or precisions == "":
        return list(DEFAULT_PRECISIONS)
    if isinstance(precisions, str):
        return [p.strip() for p in precisions.split(",") if p.strip()]
    return list(precisions)


def _whole(value, what: str, default: int | None) -> int | None:
    """A whole number >= 1 from a form field (which may hold a float or a string), else gr.Error."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{what} must be a whole number, got {value!r}: type e.g. 8192") from None
    if number != number or number < 1 or number != int(number):
        raise gr.Error(f"{what} must be a whole number of 1 or more, got {value!r}: type e.g. 8192")
    return int(number)


def _request(model, precisions, gpu, context, batch, kv_cache_dtype, tp, engine, gpu_memory_utilization, serve_as, hf_token):
    """Form values -> (resolved, precision names, GPUs, serving options or None). Errors: gr.Error."""
    names = _precision_names(precisions)
    gpus = [get_gpu(name) for name in str(gpu or DEFAULT_GPU).split(",") if name.strip()] or [get_gpu(DEFAULT_GPU)]
    for value, allowed, what in ((engine, ENGINES, "engine"), (serve_as, SERVE_AS, "weights format"), (kv_cache_dtype, KV_DTYPES, "KV-cache dtype")):
        if value not in allowed:
            raise gr.Error(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    try:
        utilization = float(gpu_memory_utilization)
    except (TypeError, ValueError):
        utilization = -1.0
    if not 0 < utilization <= 1:
        raise gr.Error(f"gpu_memory_utilization must be above 0 and at most 1, got {gpu_memory_utilization!r}: e.g. 0.9")
    context_tokens = _whole(context, "context length", None)
    sequences = _whole(batch, "concurrent sequences", 1)
    tp_size = _whole(tp, "tensor parallelism", 1)
    model = model.strip() if isinstance(model, str) else model
    # NOTE: a catalog model answers from the bundled catalog, without a network call: its count is exact.
    resolved = resolve(model, token=(hf_token or "").strip() or None, prefer_catalog=True)
    options = None
    if resolved.spec.has_shape:
        dtype, quantization = SERVE_AS[serve_as]
        options = ServingOptions(
            gpu=gpus[0],
            engine=ENGINES[engine],
            tp=tp_size,
            dtype=dtype,
            quantization=quantization,
            kv_cache_dtype=kv_cache_dtype,
            context=context_tokens,
            batch=sequences,
            gpu_memory_utilization=utilization,
            max_model_len=context_tokens if ENGINES[engine] else None,
        )
    return resolved, names, gpus, options


def estimate(
    model: str,
    precisions: str = ",".join(DEFAULT_PRECISIONS),
    gpu: str = DEFAULT_GPU,
    context: int = DEFAULT_CONTEXT,
    batch: int = 1,
    kv_cache_dtype: str = "auto",
    tp: int = 1,
    engine: str = "generic",
    gpu_memory_utilization: float = 0.9,
    serve_as: str = "checkpoint's own",
    hf_token: str = "",
) -> dict:
    """The estimate as the CLI's --json object. `model`: a catalog name, Hub ID or URL, or a count like
    70B. `precisions` and `gpu` take comma-separated names; `gpu` also takes a size like 48GB.
    `hf_token` is used for this request only (gated models), never stored."""
    try:
        return build_report(*_request(model, precisions, gpu, context, batch, kv_cache_dtype, tp, engine,
                                      gpu_memory_utilization, serve_as, hf_token))
    except LlmmemError as exc:
        # NOTE: the library's one line that ends with the fix; never a traceback.
        raise gr.Error(str(exc), print_exception=False) from None


# ---------------------------------------------------------------------------------------- rendering


def card_markdown(report: dict) -> str:
    parts = [f"**{report['parameters']:,} parameters** ({format_count(report['parameters'])})"]
    if report.get("active_parameters"):
        parts.append(f"**{format_count(report['active_parameters'])} active** per token ({report['active_parameters']:,})")
    arch = report.get("architecture")
    if arch:
        shape = f"`{report.get('model_type') or 'unknown'}`: {arch.get('num_layers')} layers, hidden {arch.get('hidden_size')}"
        if arch.get("num_attention_heads"):
            shape += f", {arch['num_attention_heads']} heads / {arch.get('num_kv_heads', arch['num_attention_heads'])} KV heads"
        if arch.get("num_experts"):
            shape += f", {arch['num_experts']} experts ({arch.get('experts_per_token')} per token)"
        parts.append(shape)
    parts.append(f"source: **{SOURCE_LABELS.get(report['source'], report['source'])}**")
    if report.get("approximate"):
        parts.append("⚠️ approximate count")
    lines = [f"### {report['model']}", " · ".join(parts)]
    lines += [f"> {note}" for note in report.get("notes", [])]
    return "\n\n".join(lines)


def table_frame(report: dict, unit: str) -> pd.DataFrame:
    headers, rows = table_rows(report, unit)
    serving = report.get("serving")
    if serving:
        # NOTE: inserted before the GPU columns: every byte column stays together.
        at = headers.index("training (Adam)") + 1
        headers.insert(at, f"serving per GPU (TP {serving['tp']})")
        for row, cells in zip(report["precisions"], rows):
            total = row.get("serving_total_bytes")
            cells.insert(at, "n/a" if total is None else
                         f"{format_bytes(total, unit)} {'✓ fits' if row['serving_fits'] else '✗ too big'}")
    return pd.DataFrame(rows, columns=headers)


def chart_frame(report: dict, unit: str) -> pd.DataFrame:
    """Rule-of-thumb load per precision, coloured by whether one GPU holds it, beside the GPU's capacity."""
    column = f"memory ({unit})"
    gpu = report["gpus"][0]
    rows = []
    for row in report["precisions"]:
        count = row["gpus"][0]["count"]
        what = "fits on one GPU" if count == 1 else "needs more than one GPU"
        rows.append({"bar": row["label"], column: row["seed_formula_bytes"] / UNITS[unit], "what": what})
    rows.append({"bar": f"{gpu['gpu']} capacity", column: gpu["memory_bytes"] / UNITS[unit], "what": "GPU capacity"})
    return pd.DataFrame(rows)


def how_markdown(report: dict, unit: str) -> str:
    p = report["parameters"]
    gpu = report["gpus"][0]
    lines = [
        "**Rule of thumb** (the seed formula): `M = P × 4 bytes / (32 / Q) × 1.2`, "
        f"with this model's P = {p:,} parameters:",
        "",
        "| precision | Q (bits) | M = P × 4 / (32 / Q) × 1.2 | weights alone = P × Q / 8 |",
        "|---|---|---|---|",
    ]
    for row in report["precisions"]:
        lines.append(
            f"| {row['label']} | {row['bits']} | {p:,} × 4 / (32 / {row['bits']}) × 1.2 = "
            f"{row['seed_formula_bytes']:,} bytes = **{format_bytes(row['seed_formula_bytes'], unit)}** "
            f"| {row['weights_bytes']:,} bytes = {format_bytes(row['weights_bytes'], unit)} |"
        )
    arch = report.get("architecture") or {}
    heads = arch.get("num_attention_heads")
    tp_rule = (
        f"and divides the {heads} attention heads (KV heads: {arch.get('num_kv_heads', heads)}, split or replicated evenly)"
        if heads
        else "(only a count is known, so no head check)"
    )
    lines += [
        "",
        f"**GPUs needed** = ceil(M / GPU memory). A {gpu['label']} holds {gpu['memory_bytes']:,} bytes as CUDA reports it "
        f"({format_bytes(gpu['memory_bytes'], 'GB')} = {format_bytes(gpu['memory_bytes'], 'GiB')}). "
        f"**With TP**: the smallest tensor-parallel size (1, 2, 4, 8 per node) that holds M {tp_rule}; "
        "beyond 8, nodes of 8.",
        "",
        "**Largest layer**: the biggest decoder block or the embedding, the least one device must hold when a model "
        "is offloaded layer by layer. **Training (Adam)**, as accelerate's estimate: weights, gradients and two Adam "
        "states (fp32: 4 × the fp32 size; 16-bit mixed precision: 2 × the fp32 size), batch size 1, activations not included.",
    ]
    serving = report.get("serving")
    if serving:
        lines += ["", "**Serving** (the serving column and panel):", *(f"- {note}" for note in serving.get("notes") or [])]
    lines += ["", f"Units: {unit} = {UNIT_MEANING[unit]}. GPU sizes are what CUDA reports: an \"80 GB\" card holds about 80 GiB, not 80 × 10^9 bytes."]
    return "\n".join(lines)


def _shown(key: str, value, unit: str) -> str:
    if "bytes" in key and isinstance(value, int) and not isinstance(value, bool):
        # NOTE: small terms (KV cache per token) would round to 0.00 GB: show their bytes.
        return f"{value:,} bytes" if value < 10**7 else format_bytes(value, unit)
    if isinstance(value, bool):
        return "yes ✓" if value else "**no ✗**"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def serving_markdown(report: dict, unit: str) -> str:
    serving = report.get("serving")
    if not serving:
        return "*Serving estimate: needs the model's config (a catalog or Hub model), not only a parameter count.*"
    engine = "vLLM" if serving.get("engine") == "vllm" else "generic"
    context = serving.get("max_model_len") or serving.get("context")
    settings = [f"TP {serving['tp']}" + (f" × PP {serving['pp']}" if serving.get("pp", 1) > 1 else ""),
                f"weights {serving.get('weights_format')}", f"KV cache {serving.get('kv_cache_dtype')}"]
    if serving.get("engine") == "vllm":
        settings.append(f"gpu_memory_utilization {serving.get('gpu_memory_utilization')}")
    else:
        settings.append(f"{serving.get('batch')} sequence(s) of {context:,} tokens")
    lines = [
        f"#### Serving on {serving['gpus']} × {serving['gpu']} ({engine} estimate)",
        " · ".join(settings),
        "",
        f"**Max concurrency at this context** ({context:,} tokens): **{_shown('max_concurrency', serving['max_concurrency'], unit)} sequences**",
        "",
        "| term (per GPU) | value |",
        "|---|---|",
    ]
    for key, value in serving.items():
        if key in SERVING_SKIP or isinstance(value, (dict, list)) or value is None:
            continue
        lines.append(f"| {SERVING_LABELS.get(key, key.replace('_', ' '))} | {_shown(key, value, unit)} |")
    return "\n".join(lines)


def csv_file(report: dict) -> str:
    """The table as exact bytes (unit-free), one row per precision and GPU, in a temp file."""
    header = ["model", "parameters", "precision", "bits", "weights_bytes", "seed_formula_bytes", "largest_layer_bytes",
              "training_adam_bytes", "gpu", "gpu_memory_bytes", "gpus_needed", "gpus_with_tp"]
    memory = {g["gpu"]: g["memory_bytes"] for g in report["gpus"]}
    rows = [
        [report["model"], report["parameters"], row["name"], row["bits"], row["weights_bytes"], row["seed_formula_bytes"],
         row["largest_layer_bytes"], row["training_adam_bytes"], count["gpu"], memory.get(count["gpu"]), count["count"], count["tp_count"]]
        for row in report["precisions"]
        for count in row["gpus"]
    ]
    digest = hashlib.sha1(repr(rows).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", report["model"])[:80]
    path = Path(tempfile.gettempdir()) / "llmmem-csv" / f"llmmem-{slug}-{digest}.csv"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *rows])
    return str(path)


def render(state: dict | None, unit: str):
    """What the page shows for a result: card, table, chart, how, serving, CSV."""
    if not state:
        return (gr.update(),) * 6
    report, unit = state["report"], unit if unit in UNITS else "GB"
    bars = chart_frame(report, unit)
    chart = gr.BarPlot(
        value=bars,
        x="bar",
        y=f"memory ({unit})",
        color="what",
        sort=list(bars["bar"]),
        x_title=" ",
        color_title="",
        color_map=CHART_COLORS,
        y_title=f"memory ({unit} = {UNIT_MEANING[unit]})",
    )
    return (
        card_markdown(report),
        table_frame(report, unit),
        chart,
        how_markdown(report, unit),
        serving_markdown(report, unit),
        gr.DownloadButton(value=csv_file(report), visible=True),
    )


def run_estimate(model, precisions, gpu, unit, context, batch, kv_cache_dtype, tp, engine, utilization, serve_as,
                 hf_token, oauth_token: gr.OAuthToken | None = None):
    """The button: estimate, then render. A typed token wins over the signed-in one; neither is kept."""
    token = (hf_token or "").strip() or (oauth_token.token if oauth_token is not None else "")
    if not precisions:
        raise gr.Error("no precision ticked: tick at least one of 32/16/8/4-bit")
    try:
        resolved, names, gpus, options = _request(model, precisions, gpu, context, batch, kv_cache_dtype, tp, engine,
                                                  utilization, serve_as, token)
        try:
            report = build_report(resolved, names, gpus, options)
        except LlmmemError as exc:
            if options is None:
                raise
            # NOTE: a serving setting that does not suit the model (tp 8 on 12 heads) must not hide the table.
            gr.Warning(f"serving estimate skipped: {exc}")
            report = build_report(resolved, names, gpus, None)
    except LlmmemError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    state = {"report": report}
    return (state, *render(state, unit))


# ------------------------------------------------------------------------------------- URL sharing

URL_FIELDS = ("model", "precisions", "gpu", "unit", "context", "batch", "kv", "tp", "engine", "util", "serve")
URL_DEFAULTS = {"model": DEFAULT_MODEL, "precisions": ",".join(DEFAULT_PRECISIONS), "gpu": DEFAULT_GPU, "unit": "GB",
                "context": DEFAULT_CONTEXT, "batch": 1, "kv": "auto", "tp": 1, "engine": "generic", "util": 0.9,
                "serve": "checkpoint's own"}

# NOTE: runs in the browser before the estimate: writes the inputs (never the token, which comes after
# these fields) into the page URL, and into the Space page's URL when embedded on huggingface.co
# (https://huggingface.co/docs/hub/spaces-handle-url-parameters).
SYNC_URL_JS = """
(...args) => {
  const fields = %s;
  const params = new URLSearchParams();
  fields.forEach((name, i) => {
    let value = args[i];
    if (Array.isArray(value)) value = value.join(",");
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  });
  const query = params.toString();
  history.replaceState(null, "", window.location.pathname + "?" + query);
  if (window.parent !== window) window.parent.postMessage({ queryString: query }, "https://huggingface.co");
  return args;
}
""" % list(URL_FIELDS)

# NOTE: the unit switch only rewrites the unit in the URL; the state (first argument) passes through.
SYNC_UNIT_JS = """
(state, unit) => {
  const params = new URLSearchParams(window.location.search);
  params.set("unit", unit);
  history.replaceState(null, "", window.location.pathname + "?" + params.toString());
  if (window.parent !== window) window.parent.postMessage({ queryString: params.toString() }, "https://huggingface.co");
  return [state, unit];
}
"""


def _from_query(query: dict) -> dict:
    """The URL's query parameters -> form values; what is missing or unusable takes the default."""
    values = {name: query.get(name) or URL_DEFAULTS[name] for name in URL_FIELDS}
    values["precisions"] = [p for p in _precision_names(values["precisions"]) if p in PRECISIONS] or list(DEFAULT_PRECISIONS)
    for name, allowed in (("unit", UNITS), ("kv", KV_DTYPES), ("engine", ENGINES), ("serve", SERVE_AS)):
        if values[name] not in allowed:
            values[name] = URL_DEFAULTS[name]
    for name, kind in (("context", int), ("batch", int), ("tp", int), ("util", float)):
        try:
            values[name] = kind(float(values[name])) if kind is int else float(values[name])
        except ValueError:
            gr.Warning(f"ignored {name}={values[name]!r} from the link: not a number")
            values[name] = URL_DEFAULTS[name]
    return values


def from_url(request: gr.Request):
    """Page load: fill the inputs from the URL's query parameters (or the defaults) and show the result."""
    values = _from_query(dict(request.query_params) if request is not None else {})
    inputs = tuple(values[name] for name in URL_FIELDS)
    try:
        outputs = run_estimate(*inputs, "")
    except gr.Error as exc:
        gr.Warning(f"the link's model could not be estimated: {exc.message}")
        outputs = (None, *(gr.update(),) * 6)
    return (*inputs, *outputs)


# ------------------------------------------------------------------------------------------- layout

CSS = """
.gradio-container { max-width: 1200px !important; margin: auto !important; }
#card { padding: 2px 14px; border-radius: 10px; background: var(--block-background-fill); }
footer { display: none !important; }
"""
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky")
EXAMPLES = [
    ["meta-llama/Llama-3.1-8B"],
    ["meta-llama/Llama-3.1-70B"],
    ["Qwen/Qwen3-30B-A3B"],
    ["deepseek-ai/DeepSeek-V3"],
    ["openai/gpt-oss-20b"],
    ["70B"],
]

with gr.Blocks(title="llmmem: GPU memory for LLMs", delete_cache=(3600, 3600)) as demo:
    gr.Markdown(
        "# llmmem: how much GPU memory does this model need?\n"
        "Pick a model from the catalog, paste any Hugging Face model ID or URL, or type a parameter count "
        "(`70B`). Every figure is labelled: **GB = 10^9 bytes**, **GiB = 2^30 bytes**."
    )
    state = gr.State(None)
    with gr.Row(equal_height=True):
        model = gr.Dropdown(
            choices=model_choices(),
            value=DEFAULT_MODEL,
            allow_custom_value=True,
            filterable=True,
            label="Model: catalog name, Hub ID or URL, or a parameter count like 70B",
            elem_id="model",
            scale=4,
        )
        gpu = gr.Dropdown(
            choices=[(f"{g.name} ({g.memory_bytes / 2**30:.2f} GiB)", g.name) for g in GPUS],
            value=DEFAULT_GPU,
            allow_custom_value=True,
            filterable=True,
            label="GPU, or a size (48GB, 80GiB)",
            elem_id="gpu",
            scale=2,
        )
        button = gr.Button("Estimate", variant="primary", elem_id="estimate", scale=1)
    with gr.Row():
        precisions = gr.CheckboxGroup(
            choices=[(p.label, p.name) for p in PRECISIONS.values()],
            value=list(DEFAULT_PRECISIONS),
            label="Precisions",
            elem_id="precisions",
            scale=3,
        )
        unit = gr.Radio(["GB", "GiB"], value="GB", label="Units", info="GB = 10^9 bytes, GiB = 2^30 bytes", elem_id="unit", scale=1)
    with gr.Accordion("Serving: context, concurrency, KV cache, parallelism, engine", open=False):
        with gr.Row():
            context = gr.Number(value=DEFAULT_CONTEXT, precision=0, minimum=1, label="Context length (tokens per sequence)", elem_id="context")
            batch = gr.Number(value=1, precision=0, minimum=1, label="Concurrent sequences", elem_id="batch")
            kv_cache_dtype = gr.Dropdown(list(KV_DTYPES), value="auto", label="KV-cache dtype", elem_id="kv")
            tp = gr.Dropdown(list(TP_SIZES), value=1, label="Tensor parallelism", elem_id="tp")
        with gr.Row():
            engine = gr.Radio(list(ENGINES), value="generic", label="Engine", info="vLLM: predict what it reserves at start-up", elem_id="engine")
            utilization = gr.Slider(0.5, 1.0, value=0.9, step=0.01, label="gpu_memory_utilization (vLLM)", elem_id="util")
            serve_as = gr.Dropdown(list(SERVE_AS), value="checkpoint's own", label="Serve weights as", elem_id="serve")
    with gr.Accordion("Gated or private model? Access token", open=False):
        hf_token = gr.Textbox(
            type="password",
            label="Hugging Face access token: used for this request only, never stored or logged",
            placeholder="hf_...",
            elem_id="token",
        )
        if ON_SPACE:
            gr.LoginButton()
    card = gr.Markdown(elem_id="card")
    table = gr.Dataframe(label="Memory by precision", interactive=False, wrap=True, elem_id="table")
    with gr.Row():
        with gr.Column(scale=3):
            chart = gr.BarPlot(label="Rule of thumb x1.2 by precision, against the GPU", elem_id="chart")
        with gr.Column(scale=2):
            serving_md = gr.Markdown(elem_id="serving")
    download = gr.DownloadButton("Download CSV (exact bytes)", visible=False, elem_id="download", size="sm")
    with gr.Accordion("How this was computed", open=False):
        how = gr.Markdown(elem_id="how")
    # NOTE: labels, because a dropdown shows a value outside its choices (70B) as an empty chip.
    gr.Examples(EXAMPLES, inputs=[model], example_labels=[e[0] for e in EXAMPLES], label="Examples (they work offline)")

    url_inputs = [model, precisions, gpu, unit, context, batch, kv_cache_dtype, tp, engine, utilization, serve_as]
    results = [state, card, table, chart, how, serving_md, download]
    button.click(run_estimate, inputs=[*url_inputs, hf_token], outputs=results, js=SYNC_URL_JS,
                 api_visibility="private", concurrency_limit=8)
    unit.change(render, inputs=[state, unit], outputs=results[1:], js=SYNC_UNIT_JS, api_visibility="private")
    demo.load(from_url, inputs=None, outputs=[*url_inputs, *results], api_visibility="private")
    # NOTE: the API: the same JSON object as `python -m llmmem ... --json`.
    gr.api(estimate, api_name="estimate", concurrency_limit=8)

# NOTE: run history would keep the inputs (a token too) in the browser: off.
LAUNCH_KWARGS = {"theme": THEME, "css": CSS, "run_history": False}

if __name__ == "__main__":
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **LAUNCH_KWARGS,
    )
