"""The fixed-state token mixers of hybrid and SSM models: their parameters and their state dims.

Each mixer replaces attention in some decoder layers and keeps a fixed state per sequence instead of
K and V per token. Counts follow transformers 5.24.0 (the mixer classes named below); the dims are
what spec.MambaMixer / GatedDeltaNet / ShortConv carry for the cache model.

Parameters split into spec keys "ssm_proj" (the linear projections) and "ssm_other" (depthwise
conv1d, A_log, D, dt_bias and the norms inside the mixer).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable

from llmmem.config_check import flag, positive_int
from llmmem.errors import ConfigError
from llmmem.spec import GatedDeltaNet, MambaMixer, ShortConv

# The mixers, by the name a Family row gives (Family.state_mixer).
MAMBA1, MAMBA2, GATED_DELTA_NET, SHORT_CONV = "mamba1", "mamba2", "gated_delta_net", "short_conv"

Get = Callable[..., Any]  # cfg.get: the config value, or the family default


def _int(get: Get, key: str, default: Any = None) -> int:
    return positive_int(key, get(key, default))


def _expand(get: Get, key: str) -> float:
    value = get(key, 2)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"config.json has {key}={value!r}, not a positive number: fix the config.json")
    return value


def _flag(get: Get, key: str, default: bool) -> bool:
    return flag(get(key), default)


def _time_step_rank(get: Get, key: str, hidden: int) -> int:
    rank = get(key, "auto")
    # NOTE: "auto" (the config classes' default) is ceil(hidden / 16).
    return math.ceil(hidden / 16) if rank in (None, "auto") else _int(get, key)


# ----------------------------------------------------------------------------- Mamba 1


def mamba1_dims(model_type: str, get: Get, hidden: int) -> MambaMixer:
    """MambaMixer / FalconMambaMixer / JambaMambaMixer dims (d_inner is always expand x hidden:
    transformers overwrites any intermediate_size the config gives)."""
    if model_type == "jamba":
        expand, state, conv = _expand(get, "mamba_expand"), _int(get, "mamba_d_state", 16), _int(get, "mamba_d_conv", 4)
        rank = _time_step_rank(get, "mamba_dt_rank", hidden)
    else:
        expand, state, conv = _expand(get, "expand"), _int(get, "state_size", 16), _int(get, "conv_kernel", 4)
        rank = _time_step_rank(get, "time_step_rank", hidden)
    return MambaMixer(version=1, intermediate=int(expand * hidden), state_size=state, conv_kernel=conv, time_step_rank=rank)


def mamba1_params(model_type: str, get: Get, hidden: int) -> Counter:
    dims = mamba1_dims(model_type, get, hidden)
    inner, state, rank = dims.intermediate, dims.state_size, dims.time_step_rank
    if model_type == "jamba":
        proj_bias, conv_bias = _flag(get, "mamba_proj_bias", False), _flag(get, "mamba_conv_bias", True)
    else:
        proj_bias, conv_bias = _flag(get, "use_bias", False), _flag(get, "use_conv_bias", True)
    proj = (
        hidden * 2 * inner + (2 * inner if proj_bias else 0)  # in_proj (x and z)
        + inner * (rank + 2 * state)  # x_proj (dt, B, C), no bias
        + rank * inner + inner  # dt_proj, always with a bias
        + inner * hidden + (hidden if proj_bias else 0)  # out_proj
    )  # fmt: skip
    other = inner * dims.conv_kernel + (inner if conv_bias else 0) + inner * state + inner  # conv1d, A_log, D
    if model_type == "jamba":
        other += rank + 2 * state  # dt/b/c layernorms (falcon_mamba's are weightless)
    return Counter(ssm_proj=proj, ssm_other=other)


# ----------------------------------------------------------------------------- Mamba 2


def mamba2_dims(model_type: str, get: Get, hidden: int) -> MambaMixer:
    """Mamba2Mixer / NemotronHMamba2Mixer dims."""
    if model_type == "nemotron_h":
        heads, head_dim = _int(get, "mamba_num_heads", 128), _int(get, "mamba_head_dim", 64)
        state = _int(get, "ssm_state_size", 128)
        groups = _int(get, "n_groups", 8) if get("mamba_n_groups") is None else _int(get, "mamba_n_groups")
        conv = _int(get, "conv_kernel", 4) if get("mamba_d_conv") is None else _int(get, "mamba_d_conv")
        inner = heads * head_dim
    else:
        heads, head_dim = _int(get, "num_heads", 128), _int(get, "head_dim", 64)
        state, groups, conv = _int(get, "state_size", 128), _int(get, "n_groups", 8), _int(get, "conv_kernel", 4)
        # NOTE: Mamba2Mixer takes expand x hidden, not num_heads x head_dim (equal in published configs).
        inner = int(_expand(get, "expand") * hidden)
    return MambaMixer(
        version=2, intermediate=inner, state_size=state, conv_kernel=conv, n_groups=groups, num_heads=heads, head_dim=head_dim
    )


def mamba2_params(model_type: str, get: Get, hidden: int) -> Counter:
    dims = mamba2_dims(model_type, get, hidden)
    inner, heads = dims.intermediate, dims.num_heads
    conv_dim = inner + 2 * dims.n_groups * dims.state_size
    if model_type == "nemotron_h":
        conv_bias = flag(get("mamba_conv_bias"), _flag(get, "use_conv_bias", True))
    else:
        conv_bias = _flag(get, "use_conv_bias", True)
    bias = _flag(get, "use_bias", False)
    in_out = inner + conv_dim + heads  # in_proj: z, x B C, dt
    proj = hidden * in_out + (in_out if bias else 0) + inner * hidden + (hidden if bias else 0)
    other = conv_dim * dims.conv_kernel + (conv_dim if conv_bias else 0) + 3 * heads + inner  # conv1d, dt_bias A_log D, norm
    return Counter(ssm_proj=proj, ssm_other=other)


# ----------------------------------------------------------------------------- gated delta-net


def gated_delta_net_dims(get: Get) -> GatedDeltaNet:
    """Qwen3NextGatedDeltaNet / Qwen3_5GatedDeltaNet dims."""
    return GatedDeltaNet(
        num_k_heads=_int(get, "linear_num_key_heads", 16),
        num_v_heads=_int(get, "linear_num_value_heads", 32),
        head_k_dim=_int(get, "linear_key_head_dim", 128),
        head_v_dim=_int(get, "linear_value_head_dim", 128),
        conv_kernel=_int(get, "linear_conv_kernel_dim", 4),
    )


def gated_delta_net_params(get: Get, hidden: int) -> Counter:
    dims = gated_delta_net_dims(get)
    key_dim, value_dim = dims.num_k_heads * dims.head_k_dim, dims.num_v_heads * dims.head_v_dim
    conv_dim = 2 * key_dim + value_dim
    # NOTE: Qwen3-Next fuses in_proj_qkvz and in_proj_ba, Qwen3.5 splits them: the same sizes.
    proj = hidden * (conv_dim + value_dim + 2 * dims.num_v_heads) + value_dim * hidden
    other = conv_dim * dims.conv_kernel + 2 * dims.num_v_heads + dims.head_v_dim  # conv1d (no bias), dt_bias, A_log, norm
    return Counter(ssm_proj=proj, ssm_other=other)


# ----------------------------------------------------------------------------- LFM2 short conv


def short_conv_dims(get: Get, hidden: int) -> ShortConv:
    return ShortConv(hidden=hidden, l_cache=_int(get, "conv_L_cache", 3))


def short_conv_params(get: Get, hidden: int) -> Counter:
    """Lfm2ShortConv: in_proj (B, C, x), depthwise conv, out_proj; conv_bias on all three."""
    dims = short_conv_dims(get, hidden)
    bias = _flag(get, "conv_bias", False)
    proj = hidden * 3 * hidden + (3 * hidden if bias else 0) + hidden * hidden + (hidden if bias else 0)
    other = hidden * dims.l_cache + (hidden if bias else 0)
    return Counter(ssm_proj=proj, ssm_other=other)


# ----------------------------------------------------------------------------- dispatch


def mixer_params(kind: str, model_type: str, get: Get, hidden: int) -> Counter:
    if kind == MAMBA1:
        return mamba1_params(model_type, get, hidden)
    if kind == MAMBA2:
        return mamba2_params(model_type, get, hidden)
    if kind == GATED_DELTA_NET:
        return gated_delta_net_params(get, hidden)
    return short_conv_params(get, hidden)


def mixer_dims(kind: str, model_type: str, get: Get, hidden: int) -> dict[str, Any]:
    """The ModelSpec fields that describe this mixer's state."""
    if kind == MAMBA1:
        return {"mamba": mamba1_dims(model_type, get, hidden)}
    if kind == MAMBA2:
        return {"mamba": mamba2_dims(model_type, get, hidden)}
    if kind == GATED_DELTA_NET:
        return {"linear_attention": gated_delta_net_dims(get)}
    return {"short_conv": short_conv_dims(get, hidden)}
