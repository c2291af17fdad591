"""The one request every front end builds: what to size, with every default and every range check.

`make_request(**raw)` accepts what a URL, the API or the command line gives (strings such as "8192",
"max", "auto", "0.9", "true") or typed values, and returns a frozen `Request`, or raises InputError
with one line naming the field and its limit. The HF token is never part of a request: it is passed
per call, next to it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .results import Result

MAX = "max"
KV_CACHE_DTYPES = ("auto", "fp16", "bf16", "fp8")
DTYPES = ("auto", "bfloat16", "float16", "float32")
UNITS = {"GB": 10**9, "GiB": 2**30}

# Inclusive ranges of every number a request may hold.
LIMITS: dict[str, tuple[float, float]] = {
    "context": (1, 2**24),  # 16,777,216 tokens: beyond every released model's position table
    "concurrency": (1, 1_000_000),
    "tp": (1, 64),
    "pp": (1, 64),
    "max_gpus": (1, 512),
    "gpu_memory_utilization": (0.01, 1.0),
    "max_num_batched_tokens": (1, 2**24),
    "max_num_seqs": (1, 1_000_000),
    "max_model_len": (1, 2**24),
    "new_tokens": (0, 2**24),
    "usd_per_hour": (0.0, 10_000.0),
}
# Longest text a field may hold, and most items a list may hold.
TEXT_LIMITS = {"model": 512, "revision": 256, "gpu": 64, "item": 32}
LIST_LIMITS = {"gpus": 32, "precisions": 8, "weights": 16, "kv_cache_dtype": 4, "prices": 32}

# The default target: what the table's plan and the app answer when nothing else is asked.
DEFAULT_ENGINE = "vllm"
DEFAULT_GPUS = ("H100-80GB", "A100-80GB")
DEFAULT_CONTEXT = 8192  # capped at the model's maximum
DEFAULT_CONCURRENCY = 1
DEFAULT_MAX_GPUS = 64


@dataclass(frozen=True)
class Request(Result):
    model: str
    engine: str = DEFAULT_ENGINE
    gpus: tuple[str, ...] = DEFAULT_GPUS
    precisions: tuple[str, ...] | None = None  # None: the registry's defaults
    weights: tuple[str, ...] = ("auto",)  # "auto": the checkpoint's own format; the first is estimated
    kv_cache_dtype: tuple[str, ...] = ("auto",)
    dtype: str = "auto"
    context: int | str | None = None  # None: min(8192, the model's maximum); "max": the largest that fits
    concurrency: int | str = DEFAULT_CONCURRENCY  # "max": the most sequences that fit
    tp: int | None = None  # None: the planner chooses
    pp: int | None = None
    gpu_memory_utilization: float = 0.9
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    max_model_len: int | None = None
    new_tokens: int = 0
    allow_long_context: bool = False
    revision: str | None = None
    offline: bool = False
    unit: str = "GB"
    max_gpus: int = DEFAULT_MAX_GPUS
    prices: tuple[tuple[str, float], ...] = ()  # (GPU name, USD per hour) overrides

    @property
    def layout_given(self) -> bool:
        """True when the request names a parallel layout, so the estimate is made at it."""
        return self.tp is not None or self.pp is not None


def _fail(field: str, value: Any, what: str) -> InputError:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "...'"
    return InputError(f"{field} {shown} is not {what}")


def _range_text(field: str) -> str:
    low, high = LIMITS[field]
    if isinstance(low, int) and isinstance(high, int):
        return f"from {low:,} to {high:,}"
    return f"from {low:g} to {high:g}"


def parse_int(field: str, value: Any, *, allow_max: bool = False, allow_auto: bool = False) -> int | str | None:
    """A whole number within LIMITS[field]; "max" / "auto" (-> None) where the field allows them."""
    extra = (" or max" if allow_max else "") + (" or auto" if allow_auto else "")
    what = f"a whole number {_range_text(field)}{extra}: give one in that range"
    if value is None:
        return None
    if isinstance(value, bool):
        raise _fail(field, value, what)
    if isinstance(value, str):
        text = value.strip().lower().replace(",", "").replace("_", "")
        if allow_max and text == MAX:
            return MAX
        if allow_auto and text in ("auto", ""):
            return None
        if not re.fullmatch(r"[+]?\d{1,12}", text):
            raise _fail(field, value, what)
        number = int(text)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise _fail(field, value, what)
        number = int(value)
    else:
        raise _fail(field, value, what)
    low, high = LIMITS[field]
    if not low <= number <= high:
        raise _fail(field, value, what)
    return number


def parse_float(field: str, value: Any) -> float:
    what = f"a number {_range_text(field)}: give one in that range"
    if isinstance(value, bool):
        raise _fail(field, value, what)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise _fail(field, value, what) from None
    low, high = LIMITS[field]
    if not math.isfinite(number) or not low <= number <= high:
        raise _fail(field, value, what)
    return number


def parse_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    if value is None:
        return False
    raise _fail(field, value, "true or false")


def _text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise _fail(field, value, "text")
    text = value.strip()
    if len(text) > limit:
        raise InputError(f"{field} is {len(text):,} characters long: give at most {limit}")
    if any(ord(c) < 32 for c in text):
        raise InputError(f"{field} holds control characters: type it on one line")
    return text


def _names(field: str, value: Any) -> tuple[str, ...]:
    """A comma-separated string or a list -> stripped names, in order, duplicates dropped."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        name = _text("gpu" if field == "gpus" else field, item, TEXT_LIMITS["gpu" if field == "gpus" else "item"])
        if name and name not in names:
            names.append(name)
    if len(names) > LIST_LIMITS[field]:
        raise InputError(f"{field} lists {len(names)} names: give at most {LIST_LIMITS[field]}")
    return tuple(names)


def _choice(field: str, value: Any, choices: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    text = _text(field, value, TEXT_LIMITS["item"]).lower()
    aliases = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16"} if field == "kv_cache_dtype" else {}
    aliases.update({"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"} if field == "dtype" else {})
    text = aliases.get(text, text)
    if text == "":
        return default
    if text not in choices:
        raise _fail(field, value, f"one of {', '.join(choices)}")
    return text


def _weights(value: Any) -> tuple[str, ...]:
    from .quantization import FORMATS, get_format

    names = _names("weights", value) or ("auto",)
    out: list[str] = []
    for name in names:
        if name.lower() == "auto":
            canonical = "auto"
        else:
            try:
                canonical = get_format(name).name
            except InputError:
                raise _fail("weights", name, f"auto or one of {', '.join(FORMATS)}") from None
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


def _prices(value: Any) -> tuple[tuple[str, float], ...]:
    """{"H100-80GB": 2.5} or ["H100=2.5", ...] or "H100=2.5,A100=1.8" -> ((canonical GPU, usd), ...)."""
    from .gpus import get_gpu

    if not value:
        return ()
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = []
        for item in _names("prices", value):
            gpu, sep, usd = item.partition("=")
            if not sep:
                raise _fail("price", item, "GPU=USD_PER_HOUR, such as H100-80GB=2.49")
            pairs.append((gpu, usd))
    if len(pairs) > LIST_LIMITS["prices"]:
        raise InputError(f"prices lists {len(pairs)} GPUs: give at most {LIST_LIMITS['prices']}")
    return tuple((get_gpu(_text("price", gpu, TEXT_LIMITS["gpu"])).name, parse_float("usd_per_hour", usd)) for gpu, usd in pairs)


def make_request(**raw: Any) -> Request:
    """Validate and default every field; unknown fields are refused (a typo must not pass silently)."""
    from .engines import ENGINES
    from .gpus import get_gpu
    from .precisions import parse_precisions

    known = set(Request.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"unknown request field {unknown[0]!r}: use {', '.join(sorted(known))}")
    if raw.get("model") is None:
        raise InputError("no model given: type a model ID like meta-llama/Llama-3.1-8B, a config.json path, or a count like 70B")
    model = _text("model", raw["model"], TEXT_LIMITS["model"])
    if not model:
        raise InputError("no model given: type a model ID like meta-llama/Llama-3.1-8B, a config.json path, or a count like 70B")
    engine = _choice("engine", raw.get("engine"), tuple(ENGINES), DEFAULT_ENGINE)
    gpus = tuple(get_gpu(name).name for name in (_names("gpus", raw.get("gpus")) or DEFAULT_GPUS))
    precisions = raw.get("precisions")
    if precisions is not None:
        names = _names("precisions", precisions)
        precisions = tuple(p.name for p in parse_precisions(list(names) or None)) if names else None
    kv = tuple(_choice("kv_cache_dtype", name, KV_CACHE_DTYPES, "auto") for name in (_names("kv_cache_dtype", raw.get("kv_cache_dtype")) or ("auto",)))
    revision = raw.get("revision")
    revision = (_text("revision", revision, TEXT_LIMITS["revision"]) or None) if revision is not None else None
    util = raw.get("gpu_memory_utilization")
    context = parse_int("context", raw.get("context"), allow_max=True, allow_auto=True)
    max_model_len = parse_int("max_model_len", raw.get("max_model_len"), allow_auto=True)
    if isinstance(context, int) and max_model_len is not None and max_model_len < context:
        # NOTE: vLLM refuses any sequence longer than max_model_len, so such a target cannot be served.
        raise InputError(f"max_model_len {max_model_len:,} is shorter than context {context:,}: no sequence may exceed "
                         "--max-model-len; raise --max-model-len or lower --context")
    return Request(
        model=model,
        engine=engine,
        gpus=gpus,
        precisions=precisions,
        weights=_weights(raw.get("weights")),
        kv_cache_dtype=tuple(dict.fromkeys(kv)),
        dtype=_choice("dtype", raw.get("dtype"), DTYPES, "auto"),
        context=context,
        concurrency=parse_int("concurrency", raw.get("concurrency"), allow_max=True) or DEFAULT_CONCURRENCY,
        tp=parse_int("tp", raw.get("tp"), allow_auto=True),
        pp=parse_int("pp", raw.get("pp"), allow_auto=True),
        gpu_memory_utilization=0.9 if util is None or util == "" else parse_float("gpu_memory_utilization", util),
        max_num_batched_tokens=parse_int("max_num_batched_tokens", raw.get("max_num_batched_tokens"), allow_auto=True),
        max_num_seqs=parse_int("max_num_seqs", raw.get("max_num_seqs"), allow_auto=True),
        max_model_len=max_model_len,
        new_tokens=parse_int("new_tokens", raw.get("new_tokens")) or 0,
        allow_long_context=parse_bool("allow_long_context", raw.get("allow_long_context")),
        revision=revision,
        offline=parse_bool("offline", raw.get("offline")),
        unit=_choice_unit(raw.get("unit")),
        max_gpus=parse_int("max_gpus", raw.get("max_gpus")) or DEFAULT_MAX_GPUS,
        prices=_prices(raw.get("prices")),
    )


def _choice_unit(value: Any) -> str:
    if value is None or value == "":
        return "GB"
    for unit in UNITS:
        if isinstance(value, str) and value.strip().lower() == unit.lower():
            return unit
    raise _fail("unit", value, "GB (10^9 bytes) or GiB (2^30 bytes)")
