"""What vLLM 0.19's multimodal profiling adds to the memory it keeps out of the KV cache.

GPUModelRunner.profile_run (v1/worker/gpu_model_runner.py), unless --skip-mm-profiling or every
modality is off (--limit-mm-per-prompt '{"image": 0}'), encodes a dummy batch of the largest items
(embed_multimodal: vision tower + projector) and KEEPS the embeddings in its encoder cache while the
text dummy forward and the sampler run, so they add to the profiled peak. How many: the encoder
budget (multimodal/encoder_budget.py, compute_mm_encoder_budget) is
max(max_num_batched_tokens, tokens of one item) embeddings, filled with whole items, so the held
embeddings are at most max_num_batched_tokens x the text model's hidden size in the model dtype when
one item fits in the budget. The tower's own forward peak depends on the processor's image size and
is not in the spec: it is left out and said so.
"""

from __future__ import annotations

from ..spec import PROJECTOR_PART, VISION_PART, ModelSpec


def has_vision_tower(spec: ModelSpec) -> bool:
    return bool(spec.breakdown.get(VISION_PART) or spec.breakdown.get(PROJECTOR_PART))


def encoder_cache_bytes(spec: ModelSpec, max_num_batched_tokens: int, dtype_bytes: int) -> int:
    """Embeddings profiling holds for the dummy images: the encoder budget's worth of text-hidden-size
    vectors (0 for text-only models). Every tensor-parallel rank holds them whole."""
    if not has_vision_tower(spec):
        return 0
    return max_num_batched_tokens * (spec.hidden_size or 0) * dtype_bytes


def encoder_cache_note(spec: ModelSpec, max_num_batched_tokens: int) -> str | None:
    if not has_vision_tower(spec):
        return None
    return (
        f"multimodal profiling: the dummy images' embeddings (encoder budget {max_num_batched_tokens} tokens x "
        "hidden size) stay allocated through the profiling forward and sampler, so they come out of the KV "
        "budget; the vision tower's own forward peak is not sized (it depends on the image processor), and a "
        "model whose single image yields more tokens than max_num_batched_tokens holds that many instead; "
        "--skip-mm-profiling or --limit-mm-per-prompt '{\"image\": 0}' removes this term"
    )
