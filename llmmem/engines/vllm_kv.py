"""vLLM 0.19's KV cache configuration: page sizes, layer groups, blocks, tokens and concurrency.

Each function mirrors the vLLM code named in its docstring. In short, for a model whose layers keep
different things (sliding / chunked / full attention, Mamba-style fixed states):

1. Page sizes (models/config.py, HybridAttentionMambaModelConfig.verify_and_update_config): a model
   with fixed-state layers has ONE page size for every layer. The attention block size is raised to
   the smallest multiple of 16 tokens (64 for MLA) whose page (block x KV bytes per token) holds one
   layer's whole state, and the state page is padded up to that attention page
   (cache_config.mamba_page_size_padded). Without prefix caching (the 0.19 default for hybrids,
   mamba_cache_mode "none") a state "block" is one sequence's state: MambaSpec.block_size is
   max_model_len and each request needs one block per state group (MambaSpec.max_memory_usage_bytes).
2. Groups (v1/core/kv_cache_utils.py, _get_kv_cache_groups_uniform_page_size): layers are grouped
   by kind; every group has `group_size` layers (the smallest kind's count, or the largest when it is
   under 1.5 x the smallest), the last group of a kind padded; layers are dealt round-robin
   (layers[i::n]) so pipeline stages see similar groups. One pool per group slot: num_blocks =
   available // page // group_size (get_kv_cache_config_from_groups, get_num_blocks), the smallest
   worker's count kept (get_kv_cache_configs).
3. The log lines (_report_kv_cache_config): "GPU KV cache size: N tokens" with
   N = num_blocks // number of groups x the smallest group block size, and "Maximum concurrency for
   L tokens per request" = num_blocks / blocks one request of max_model_len needs over all groups
   (get_max_concurrency_for_kv_cache_config; FullAttentionSpec / SlidingWindowSpec /
   ChunkedLocalAttentionSpec / MambaSpec.max_memory_usage_bytes, v1/kv_cache_interface.py).
   Running requests are further capped by max_num_seqs; each running request of a hybrid holds one
   state block per state group.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..kv_cache import cache_layout, layer_kinds
from ..spec import CHUNKED_ATTENTION, NO_CACHE, SLIDING_ATTENTION, STATE_KINDS, ModelSpec
from .search import largest_fitting

BLOCK_SIZE = 16  # CacheConfig.block_size default on CUDA
ATTENTION_BLOCK_ALIGN = 16  # kernel_block_alignment_size: FlashAttention/FlashInfer need multiples of 16
MLA_BLOCK_ALIGN = 64  # MLA backends other than CUTLASS_MLA
SPARSE_MLA_BLOCK_SIZE = 64  # DeepSeek-V3.2's FlashMLA sparse backend runs on blocks of 64 tokens
STATE_KIND = "mamba_state"  # every fixed-state kind becomes a MambaSpec group


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PageSizes:
    """One page size for every layer (HybridAttentionMambaModelConfig.verify_and_update_config)."""

    block_size: int  # attention tokens per block
    page_bytes: int  # one layer's page, every group
    attention_page_bytes: int  # block_size x attention KV bytes per token (== page_bytes)
    state_page_bytes: int  # one layer's fixed state, before padding (0 without state layers)

    @property
    def state_padding_bytes(self) -> int:
        return self.page_bytes - self.state_page_bytes if self.state_page_bytes else 0


def hybrid_page_sizes(
    attention_bytes_per_token: int, state_page_bytes: int, *, align: int = ATTENTION_BLOCK_ALIGN, block_size: int | None = None
) -> PageSizes:
    """Attention block size and the common page of a hybrid (mamba_cache_mode "none").

    attn_block_size = align x cdiv(state page, align x attention bytes per token); a user block size
    is kept only when larger. The state page is then padded to block_size x attention bytes per token.
    """
    block = align * cdiv(state_page_bytes, align * attention_bytes_per_token)
    if block_size is not None and block_size >= block:
        block = block_size
    page = block * attention_bytes_per_token
    if state_page_bytes > page:  # NOTE: only a user block size below the minimum could get here; vLLM raises it
        block = cdiv(state_page_bytes, attention_bytes_per_token)
        page = block * attention_bytes_per_token
    return PageSizes(block, page, page, state_page_bytes)


@dataclass(frozen=True)
class KVCacheGroup:
    """Layers that share one block table (vLLM KVCacheGroupSpec)."""

    kind: str  # an attention kind, or STATE_KIND
    layers: tuple[int, ...]  # decoder layer indices (global)
    block_size: int  # tokens per block (state groups: max_model_len, one block per sequence)


@dataclass(frozen=True)
class VllmKVConfig:
    """vLLM's KV cache configuration of a model (before the memory it gets is known)."""

    groups: tuple[KVCacheGroup, ...]
    group_size: int  # layers per group, padding included
    pages: PageSizes

    @property
    def page_bytes(self) -> int:
        return self.pages.page_bytes

    @property
    def groups_per_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g in self.groups:
            out[g.kind] = out.get(g.kind, 0) + 1
        return out

    @property
    def padding_layers(self) -> int:
        return sum(self.group_size - len(g.layers) for g in self.groups)

    def stage_group_size(self, start: int, end: int) -> int:
        """Layers per group on the worker that holds decoder layers [start, end)
        (_project_kv_cache_groups_to_worker, then get_kv_cache_config_from_groups)."""
        return max((sum(start <= i < end for i in g.layers) for g in self.groups), default=0)

    def num_blocks(self, available_bytes: int, start: int = 0, end: int | None = None) -> int:
        """Blocks of one worker (get_num_blocks): available // page // layers per group."""
        end = max((i for g in self.groups for i in g.layers), default=-1) + 1 if end is None else end
        size = self.stage_group_size(start, end)
        if not self.groups or not size:
            return 0
        return max(0, available_bytes) // self.page_bytes // size

    def tokens(self, num_blocks: int) -> int:
        """"GPU KV cache size: N tokens" (_report_kv_cache_config)."""
        if not self.groups:
            return 0
        return num_blocks // len(self.groups) * min(g.block_size for g in self.groups)

    def blocks_per_request(self, spec: ModelSpec, max_model_len: int, max_num_batched_tokens: int) -> int:
        """Blocks one request of max_model_len needs over all groups (max_memory_usage_bytes / page)."""
        return sum(group_blocks(spec, g, max_model_len, max_num_batched_tokens) for g in self.groups)

    def max_concurrency(self, spec: ModelSpec, num_blocks: int, max_model_len: int, max_num_batched_tokens: int) -> float:
        """"Maximum concurrency for L tokens per request" (get_max_concurrency_for_kv_cache_config)."""
        need = self.blocks_per_request(spec, max_model_len, max_num_batched_tokens)
        return num_blocks / need if need else 0.0

    def memory_for_one_request(self, spec: ModelSpec, max_model_len: int, max_num_batched_tokens: int, group_size: int | None = None) -> int:
        """Bytes one worker needs to serve one max_model_len request (_max_memory_usage_bytes_from_groups,
        the check behind "To serve at least one request with the models's max seq len ...")."""
        size = self.group_size if group_size is None else group_size
        return size * self.page_bytes * self.blocks_per_request(spec, max_model_len, max_num_batched_tokens)

    def estimated_max_model_len(
        self, spec: ModelSpec, available_bytes: int, max_model_len: int, max_num_batched_tokens: int, group_size: int | None = None
    ) -> int:
        """_estimate_max_model_len_from_groups: the longest length in [1, max_model_len] whose one
        request fits `available_bytes` on a worker with `group_size` layers per group (0: not even 1)."""

        def fits(length: int) -> bool:
            return self.memory_for_one_request(spec, length, max_num_batched_tokens, group_size) <= available_bytes

        if not self.groups:
            return max_model_len
        return largest_fitting(fits, max_model_len)

    def longest_context_for(self, spec: ModelSpec, num_blocks: int, sequences: int, cap: int, max_num_batched_tokens: int) -> int:
        """Longest context `sequences` requests can hold at once in `num_blocks` blocks (0: none), capped."""
        def fits(context: int) -> bool:
            return sequences * self.blocks_per_request(spec, context, max_num_batched_tokens) <= num_blocks

        return largest_fitting(fits, cap) if sequences >= 1 else 0


def group_blocks(spec: ModelSpec, group: KVCacheGroup, max_model_len: int, max_num_batched_tokens: int) -> int:
    """Blocks one request needs in one group.

    FullAttentionSpec: cdiv(max_model_len, block). SlidingWindowSpec: cdiv(min(window - 1 + batched
    tokens, max_model_len), block) + 1. ChunkedLocalAttentionSpec: cdiv(min(chunk + batched tokens,
    max_model_len), block). MambaSpec (mamba_cache_mode "none"): one block, the sequence's state.
    """
    block = group.block_size
    if group.kind == STATE_KIND:
        return 1
    if group.kind == SLIDING_ATTENTION and spec.sliding_window:
        return cdiv(min(spec.sliding_window - 1 + max_num_batched_tokens, max_model_len), block) + 1
    if group.kind == CHUNKED_ATTENTION and spec.attention_chunk_size:
        return cdiv(min(spec.attention_chunk_size + max_num_batched_tokens, max_model_len), block)
    return cdiv(max_model_len, block)


def group_layers(kinds: list[str]) -> tuple[int, list[tuple[str, tuple[int, ...]]]]:
    """_get_kv_cache_groups_uniform_page_size: (group_size, [(kind, layer indices)]) for the layers that
    keep a cache. One kind: a single group of all its layers."""
    by_kind: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        if kind == NO_CACHE:
            continue
        by_kind.setdefault(STATE_KIND if kind in STATE_KINDS else kind, []).append(i)
    if not by_kind:
        return 0, []
    if len(by_kind) == 1:
        kind, layers = next(iter(by_kind.items()))
        return len(layers), [(kind, tuple(layers))]
    smallest = min(len(v) for v in by_kind.values())
    largest = max(len(v) for v in by_kind.values())
    # NOTE: vLLM's heuristic: pad the smaller kind up rather than split when the counts are close.
    size = largest if largest < smallest * 1.5 else smallest
    groups = []
    for kind, layers in by_kind.items():
        n = cdiv(len(layers), size)
        groups.extend((kind, tuple(layers[i::n])) for i in range(n))
    return size, groups


def kv_cache_config(
    spec: ModelSpec,
    *,
    tp: int = 1,
    kv_bytes: int = 2,
    dtype_bytes: int = 2,
    kv_cache_dtype: str = "auto",
    max_model_len: int = 4096,
    block_size: int | None = None,
    state_dtype: str | None = None,
) -> VllmKVConfig:
    """The KV cache configuration vLLM 0.19 builds for `spec` on one tensor-parallel rank.

    block_size: the user's --block-size (None: vLLM's default, 16; 64 for DeepSeek-V3.2's sparse MLA).
    """
    layout = cache_layout(spec, tp=tp, kv_bytes=kv_bytes, dtype_bytes=dtype_bytes, kv_cache_dtype=kv_cache_dtype, state_dtype=state_dtype)
    kinds = layer_kinds(spec)
    size, members = group_layers(kinds)
    attention = [k for k in layout.kinds if k.kind not in STATE_KINDS]
    states = [k for k in layout.kinds if k.kind in STATE_KINDS]
    per_token = attention[0].bytes_per_token if attention else 0
    state_page = max((k.state_bytes for k in states), default=0)
    default_block = SPARSE_MLA_BLOCK_SIZE if spec.is_mla and spec.index_topk else BLOCK_SIZE
    if states and attention:
        align = MLA_BLOCK_ALIGN if spec.is_mla else ATTENTION_BLOCK_ALIGN
        pages = hybrid_page_sizes(per_token, state_page, align=align, block_size=block_size)
    elif states:
        # NOTE: attention-free (Mamba-only) models keep their unpadded state page (MambaModelConfig).
        pages = PageSizes(max_model_len, state_page, 0, state_page)
    else:
        block = block_size or default_block
        pages = PageSizes(block, block * per_token, block * per_token, 0)
    groups = tuple(
        KVCacheGroup(kind, layers, max_model_len if kind == STATE_KIND else pages.block_size) for kind, layers in members
    )
    return VllmKVConfig(groups=groups, group_size=size, pages=pages)
