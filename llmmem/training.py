"""Fine-tuning memory: PyTorch's allocated peak over a training step of a transformers causal LM.

The step is what people run (and what tests/fixtures/transformers_h200/train.csv measured):
`loss = model(input_ids, labels=input_ids, use_cache=False).loss; loss.backward(); opt.step();
opt.zero_grad(set_to_none=True)`, from the second step on (the optimizer states exist then).

Memory is counted at the four moments where it can peak, from what each moment keeps alive:
  forward    weights, optimizer states, every tensor autograd saved for the backward (below), and
             the loss's transients: the logits (B x T x vocab in the compute dtype), their fp32 copy
             (loss_utils.ForCausalLMLoss: `logits.float()`) and log_softmax's fp32 output (saved).
  backward   (its start) the saved tensors, log_softmax's output and two more fp32 logits-sized
             tensors: nll_loss's gradient and log_softmax's; then the LM head's weight gradient.
  grads      (the end of the backward) weights, states, every gradient, and for tied embeddings the
             embedding's own gradient before AccumulateGrad adds it into the LM head's.
  step       weights, gradients, states and the optimizer's temporaries: torch's foreach AdamW
             (the default on CUDA) makes `exp_avg_sq_sqrt = torch._foreach_sqrt(exp_avg_sqs)`, one
             more copy of the states' size; the fused kernels and SGD make none.
  recompute  (gradient checkpointing) the layers' inputs, plus one layer recomputed in full.

What autograd saves per decoder layer (llama-like families; found by tracing the saved tensors of
a full-size model on the meta device, see bench/trace_training_memory.py), with N = batch x tokens:
  RMSNorm    (llama: `h = x.to(float32)`, `h * rsqrt(h.pow(2).mean() + eps)`, `weight * h.to(dtype)`)
             keeps h in fp32 (4 N hidden), the rsqrt (4 N), and the bf16 cast that the weight's
             gradient needs (2 N hidden) when the weight trains. Gemma's norm also keeps the fp32
             normalised tensor that multiplies (1 + weight).
  linear     keeps its input when its weight trains (q/k/v share one normed tensor; gate/up another).
             Under autocast (mixed) every call casts its fp32 input to bf16 again, so q, k and v keep
             three copies. LoRA's adapters (peft casts adapter weights to fp32) keep an fp32 copy of
             their input each, and lora_A's output (N x r, fp32).
  attention  SDPA's fused kernels keep q and k after rotary, v, the output and the fp32 log-sum-exp
             (B x heads x T); layers with a mask (Gemma 2's sliding layers) go through repeat_kv
             and the memory-efficient kernel, so k and v are kept at every query head.
  MLP        gated: gate_proj's output (for the activation), act and up (for the product), the
             product (for down_proj): 4 x N x I in bf16.
Gradient checkpointing (non-reentrant, per decoder layer) keeps only each layer's input.

Mixed precision (fp32 model under bf16 autocast): the residual stream is fp32; autocast caches a
bf16 copy of every linear weight for the forward, and the backward keeps them until each layer is
done. QLoRA: linear weights in bitsandbytes nf4 (0.5 byte per weight), with double quantisation of
the absmax constants (one byte per 64-weight block, plus an fp32 per 256 blocks), everything else
in bf16, adapters as LoRA; each linear's weight is dequantised to bf16 for its matmul.

Fitted constants: TRAINING_CUBLAS_WORKSPACES (measured: see its note). Everything else comes from
the shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError
from .gpus import GPU, get_gpu
from .engines.transformers import CUBLAS_WORKSPACE_BYTES, sliding_mask_materialised, unmodelled_layers
from .spec import SLIDING_ATTENTION, ModelSpec

MiB = 2**20

RECIPES = ("full", "mixed", "lora", "qlora")
OPTIMIZERS = ("adamw", "adamw-fused", "adamw-8bit", "sgd")
LORA_TARGETS = ("all-linear", "attention")
# The GPUs an answer lists when none is asked for.
LISTED_GPUS = ("A100-40GB", "A100-80GB", "H100-80GB", "H200-141GB", "L4-24GB", "RTX4090-24GB")

# NOTE: measured, not derived (fitted on the fixture's first group only): the first training step of
# a process leaves 96 MiB more allocated than weights + optimizer states (cuBLAS workspaces of 32 MiB
# for the forward's handle, the autograd engine's device thread and cuBLASLt): train.csv rows
# Qwen2.5-0.5B full_bf16, the first of their process, after_steps - weights - states = 100.9e6 bytes.
TRAINING_CUBLAS_WORKSPACES = 3 * CUBLAS_WORKSPACE_BYTES

# bitsandbytes nf4 with double quantisation: 4 bits per weight; one 8-bit absmax per 64 weights; one
# fp32 absmax (and an fp32 offset) per 256 first-level blocks.
NF4_BYTES_PER_WEIGHT = 0.5 + 1 / 64 + 8 / (64 * 256)
# bitsandbytes 8-bit AdamW: two uint8 states with one fp32 absmax per 256-value block each.
ADAM8BIT_BYTES_PER_PARAM = 2 * (1 + 4 / 256)


@dataclass(frozen=True)
class TrainingOptions:
    recipe: str = "full"
    batch: int = 1
    seq_len: int = 2048
    checkpointing: bool = False
    optimizer: str = "adamw"
    lora_rank: int = 16
    lora_targets: str = "all-linear"
    gpu: GPU | None = None
    first_in_process: bool = True  # the cuBLAS workspaces are part of this step's peak


@dataclass(frozen=True)
class TrainingEstimate:
    model: str
    parameters: int
    trainable_parameters: int
    recipe: str
    optimizer: str
    batch: int
    seq_len: int
    checkpointing: bool
    terms: dict[str, int]
    moments: dict[str, int]
    peak_moment: str
    peak_bytes: int
    gpus: list[dict]
    accelerate_training_bytes: int  # accelerate's "training (Adam)": 4 x the weights in the model dtype
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "parameters": self.parameters,
            "trainable_parameters": self.trainable_parameters,
            "recipe": self.recipe,
            "optimizer": self.optimizer,
            "batch": self.batch,
            "seq_len": self.seq_len,
            "checkpointing": self.checkpointing,
            "terms": dict(self.terms),
            "moments": dict(self.moments),
            "peak_moment": self.peak_moment,
            "peak_bytes": self.peak_bytes,
            "gpus": [dict(g) for g in self.gpus],
            "accelerate_training_bytes": self.accelerate_training_bytes,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# shapes


@dataclass(frozen=True)
class _Shape:
    n: int  # tokens in the batch
    batch: int
    tokens: int
    hidden: int
    q_width: int  # heads x head_dim
    kv_width: int
    heads: int
    kv_heads: int
    inner: int  # dense MLP intermediate size
    vocab: int
    layers: int


def _shape(spec: ModelSpec, batch: int, tokens: int) -> _Shape:
    heads = spec.num_attention_heads
    head_dim = spec.attention_head_dim
    kv_heads = spec.num_kv_heads or heads
    return _Shape(
        n=batch * tokens,
        batch=batch,
        tokens=tokens,
        hidden=spec.hidden_size,
        q_width=heads * head_dim,
        kv_width=kv_heads * head_dim,
        heads=heads,
        kv_heads=kv_heads,
        inner=spec.intermediate_size or 0,
        vocab=spec.vocab_size,
        layers=spec.num_layers,
    )


@dataclass(frozen=True)
class Layout:
    """A family's decoder layer as autograd sees it: its linears (by peft's module names), how they
    share inputs, its MLP, its norms. Families not listed are read as llama-like."""

    qkv: tuple[str, ...] = ("q_proj", "k_proj", "v_proj")  # linears reading the attention input
    out: str = "o_proj"
    mlp_in: tuple[str, ...] = ("gate_proj", "up_proj")
    mlp_out: str = "down_proj"
    mlp: str = "gated"  # gated | fused_gated | plain
    # plain MLPs: I-sized tensors the activation keeps besides fc1's output: gelu/tanh-gelu keep only
    # their input (0); relu keeps its output, which fc2 keeps anyway (-1: fc2's input is not extra);
    # gelu_new (activations.NewGELUActivation's Python formula) keeps tanh's output, 0.5 * x and 1 + tanh (3)
    activation_keeps: int = 0
    norm: str = "rms"  # rms (llama) | gemma (fp32 throughout, times 1 + weight) | layer (LayerNorm)
    norms: int = 2  # hidden-size norms per layer
    norm_feeds_mlp: bool = True  # False: a parallel block, the MLP reads the attention's normed input
    qk_norm: bool = False  # RMSNorm on queries and keys (Qwen3, Gemma 3, OLMo 2)
    softcapped_logits: bool = False
    # a fused qkv projection whose V is a view of its output: SDPA keeping V keeps all of it (Phi-3, NeoX)
    fused_qkv_kept: bool = False
    # hidden-state dropouts per layer in training mode, at the published configs' p = 0.1 (GPT-2's
    # resid_pdrop, OPT's dropout): CUDA's native_dropout keeps a bool mask of the hidden size each
    dropouts: int = 0
    # a parallel block whose two LayerNorms both read the layer's input (GPT-NeoX): one saved input
    norms_share_input: bool = False


_PLAIN = dict(mlp_in=("fc1",), mlp_out="fc2", mlp="plain", norm="layer")
LAYOUTS: dict[str, Layout] = {
    "qwen3": Layout(qk_norm=True),
    "qwen3_moe": Layout(qk_norm=True),
    "olmo2": Layout(qk_norm=True),
    "gemma": Layout(norm="gemma"),
    "gemma2": Layout(norm="gemma", norms=4, softcapped_logits=True),
    "gemma3_text": Layout(norm="gemma", norms=4, qk_norm=True),
    "phi3": Layout(qkv=("qkv_proj",), mlp_in=("gate_up_proj",), mlp="fused_gated", fused_qkv_kept=True),
    "gpt2": Layout(qkv=("c_attn",), out="c_proj", mlp_in=("c_fc",), mlp_out="c_proj_mlp", mlp="plain", activation_keeps=3, norm="layer", dropouts=2),
    "opt": Layout(out="out_proj", activation_keeps=-1, dropouts=2, **_PLAIN),
    "phi": Layout(out="dense", activation_keeps=3, norms=1, norm_feeds_mlp=False, **_PLAIN),
    "gptj": Layout(out="out_proj", mlp_in=("fc_in",), mlp_out="fc_out", mlp="plain", activation_keeps=3, norm="layer", norms=1, norm_feeds_mlp=False),
    "gpt_neox": Layout(qkv=("query_key_value",), out="dense", mlp_in=("dense_h_to_4h",), mlp_out="dense_4h_to_h",
                       mlp="plain", norm="layer", fused_qkv_kept=True, norms_share_input=True),
    "starcoder2": Layout(mlp_in=("c_fc",), mlp_out="c_proj", mlp="plain", norm="layer"),
    "falcon": Layout(qkv=("query_key_value",), out="dense", mlp_in=("dense_h_to_4h",), mlp_out="dense_4h_to_h", mlp="plain", norm="layer", norms=1, norm_feeds_mlp=False),
}
DEFAULT_LAYOUT = Layout()


def layout_of(spec: ModelSpec) -> Layout:
    return LAYOUTS.get(spec.model_type or "", DEFAULT_LAYOUT)


def _layer_linear_shapes(spec: ModelSpec) -> dict[str, tuple[int, int]]:
    """(in, out) of each linear in a decoder layer, by peft's module names."""
    s = _shape(spec, 1, 1)
    lay = layout_of(spec)
    widths = {"q_proj": s.q_width, "k_proj": s.kv_width, "v_proj": s.kv_width}
    shapes = {name: (s.hidden, widths.get(name, s.q_width + 2 * s.kv_width)) for name in lay.qkv}
    shapes[lay.out] = (s.q_width, s.hidden)
    per_input = 2 * s.inner if lay.mlp == "fused_gated" else s.inner
    shapes.update({name: (s.hidden, per_input) for name in lay.mlp_in})
    shapes[lay.mlp_out] = (s.inner, s.hidden)
    return shapes


def lora_targets(spec: ModelSpec, targets: str) -> dict[str, tuple[int, int]]:
    shapes = _layer_linear_shapes(spec)
    if targets == "attention":
        lay = layout_of(spec)
        return {k: v for k, v in shapes.items() if k in lay.qkv or k == lay.out}
    return shapes


def lora_parameters(spec: ModelSpec, rank: int, targets: str = "all-linear") -> int:
    """Adapter parameters: r x (in + out) per targeted linear per layer (peft's lora_A is r x in,
    lora_B out x r; "all-linear" is every linear but the output layer)."""
    per_layer = sum(rank * (i + o) for i, o in lora_targets(spec, targets).values())
    return per_layer * spec.num_layers


def linear_parameters(spec: ModelSpec) -> int:
    """Weights of the decoder layers' linear projections (what QLoRA quantises)."""
    return sum(spec.breakdown.get(k, 0) for k in ("attention_qo", "attention_kv", "mlp", "experts", "shared_experts"))


# ---------------------------------------------------------------------------------------------
# saved activations


def _norm_saved(spec: ModelSpec, s: _Shape, recipe: str, width: int, bf16_input: bool = False) -> int:
    """Bytes one norm over `width` keeps for the backward (its input requires grad). Under autocast a
    norm reading a linear's output (bf16_input: q/k norms) makes its own fp32 copy, as in bf16."""
    kind = layout_of(spec).norm
    if recipe == "mixed" and bf16_input and kind == "rms":
        recipe = "full"
    trains = recipe in ("full", "mixed")
    if kind == "layer":
        # native_layer_norm keeps its input (and fp32 mean and rstd per row)
        return (4 if recipe == "mixed" else 2) * s.n * width + 8 * s.n
    rows = s.n * max(1, width // s.hidden) if width != s.hidden else s.n
    rsqrt = 4 * rows
    if recipe == "mixed":
        # the fp32 input itself (.to(float32) is a no-op) and the normalised fp32 tensor
        return 8 * s.n * width + rsqrt
    kept = 4 * s.n * width + rsqrt  # h = x.to(float32)
    if trains:
        kept += (4 if kind == "gemma" else 2) * s.n * width  # what the weight's gradient multiplies
    return kept


def _inputs_saved(s: _Shape, recipe: str, width: int, consumers: tuple[str, ...], targets: dict, rank: int, cast: bool = True) -> int:
    """A tensor of `width` read by `consumers` linears: the full recipe keeps it once; autocast keeps
    one bf16 cast per call (when the tensor is fp32: `cast`); LoRA keeps an fp32 copy per adapter."""
    if recipe == "full":
        return 2 * s.n * width
    if recipe == "mixed":
        return len(consumers) * 2 * s.n * width if cast else 2 * s.n * width
    adapters = sum(1 for c in consumers if c in targets)
    return adapters * (4 * s.n * width + 4 * s.n * rank)


def layer_saved_bytes(spec: ModelSpec, s: _Shape, recipe: str, targets: dict, rank: int, first: bool = False) -> int:
    """Bytes autograd keeps from one decoder layer's forward until its backward."""
    lay = layout_of(spec)
    lora = recipe in ("lora", "qlora")
    n, h = s.n, s.hidden
    total = 0
    # norms; under LoRA without checkpointing the first layer's input does not require grad
    norms = lay.norms - (1 if lora and first else 0)
    if lay.norms_share_input and norms > 1:
        total += _norm_saved(spec, s, recipe, h) + (norms - 1) * 8 * n  # the input once, mean and rstd each
    else:
        total += norms * _norm_saved(spec, s, recipe, h)
    if lay.qk_norm:
        total += _norm_saved(spec, s, recipe, s.q_width, True) + _norm_saved(spec, s, recipe, s.kv_width, True)
    # the linears' inputs: attention input, attention output, MLP input, MLP product
    attention_readers = lay.qkv + (() if lay.norm_feeds_mlp else lay.mlp_in)
    total += _inputs_saved(s, recipe, h, attention_readers, targets, rank)
    if lay.norm_feeds_mlp:
        total += _inputs_saved(s, recipe, h, lay.mlp_in, targets, rank)
    if lora:
        total += _inputs_saved(s, recipe, s.q_width, (lay.out,), targets, rank)
    # SDPA's fused kernels: q, k (after rotary), v, the output (o_proj's input) and fp32 log-sum-exp
    total += 2 * n * (2 * s.q_width + 2 * s.kv_width) + 4 * n * s.heads
    if lay.fused_qkv_kept:
        total += 2 * n * (s.q_width + s.kv_width)
    total += lay.dropouts * n * h
    if s.kv_width != s.q_width and sliding_mask_materialised(spec, s.tokens):
        # NOTE: sliding layers given an explicit mask cannot use SDPA's enable_gqa
        # (sdpa_attention.use_gqa_in_sdpa), so repeat_kv copies K and V to every head
        sliding = sum(1 for kind in spec.layer_types if kind == SLIDING_ATTENTION)
        total += 2 * 2 * n * (s.q_width - s.kv_width) * sliding // max(1, s.layers)
    # the MLP's own tensors, then the product / activation output down_proj (fc2) reads
    inner = s.inner
    if spec.is_moe and spec.moe_intermediate_size:
        inner = 0  # NOTE: routed experts: see experts_saved_bytes
    if lay.mlp == "plain":
        total += 2 * n * inner * (1 + max(0, lay.activation_keeps))
        kept_by_fc2 = lay.activation_keeps >= 0
    else:
        total += 3 * 2 * n * inner  # gate out (for act), act and up (for the product)
        kept_by_fc2 = True
    if recipe in ("full", "mixed"):
        total += 2 * n * inner if kept_by_fc2 else 0
    else:
        total += _inputs_saved(s, recipe, inner, (lay.mlp_out,), targets, rank)
    total += experts_saved_bytes(spec, s)
    return total


def experts_saved_bytes(spec: ModelSpec, s: _Shape) -> int:
    """Routed MoE experts (grouped_mm): the k routed copies of each token, their gate_up output,
    act, the product and the down projection's output (kept for the routing weights' gradient)."""
    if not (spec.is_moe and spec.moe_intermediate_size):
        return 0
    routed = s.n * (spec.experts_per_token or 1)
    inner = spec.moe_intermediate_size
    return 2 * routed * (2 * s.hidden + 4 * inner)


def outer_saved_bytes(spec: ModelSpec, s: _Shape, recipe: str) -> int:
    """Outside the decoder layers: the final norm, the LM head's input, rotary cos/sin, and
    log_softmax's fp32 output (the softcapped models also keep tanh's output)."""
    total = _norm_saved(spec, s, recipe, s.hidden)
    if recipe in ("full", "mixed"):
        total += 2 * s.n * s.hidden
    total += 4 * s.n * s.vocab
    if layout_of(spec).softcapped_logits:
        total += 2 * s.n * s.vocab
    return total


# ---------------------------------------------------------------------------------------------
# weights, gradients, states


def _param_bytes(recipe: str) -> int:
    return 4 if recipe == "mixed" else 2


def weights_bytes(spec: ModelSpec, recipe: str) -> int:
    if recipe == "qlora":
        linear = linear_parameters(spec)
        return int(linear * NF4_BYTES_PER_WEIGHT) + (spec.parameters - linear) * 2
    return spec.parameters * _param_bytes(recipe)


def optimizer_bytes(trainable: int, state_bytes: int, optimizer: str) -> tuple[int, int]:
    """(states, step temporaries) of the optimizer over `trainable` parameters."""
    if optimizer == "sgd":
        return 0, 0
    if optimizer == "adamw-8bit":
        return int(trainable * ADAM8BIT_BYTES_PER_PARAM), 0
    states = 2 * trainable * state_bytes
    temp = trainable * state_bytes if optimizer == "adamw" else 0
    return states, temp


# ---------------------------------------------------------------------------------------------


def _check(spec: ModelSpec, o: TrainingOptions) -> None:
    if not spec.has_shape or not spec.breakdown or not spec.vocab_size:
        raise InputError(f"{spec.name}: a fine-tuning estimate needs the model's config.json or Hub ID, not a bare count")
    unmodelled = unmodelled_layers(spec)
    if unmodelled:
        raise InputError(f"{spec.name} has {unmodelled} layers: fine-tuning memory is modelled for attention decoders only "
                         "(Llama, Qwen, Mistral, Gemma ...)")
    if o.recipe not in RECIPES:
        raise InputError(f"unknown recipe {o.recipe!r}: use one of {', '.join(RECIPES)}")
    if o.optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {o.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
    if o.lora_targets not in LORA_TARGETS:
        raise InputError(f"unknown LoRA targets {o.lora_targets!r}: use all-linear or attention")
    if o.batch < 1 or o.seq_len < 1:
        raise InputError("batch and sequence length must be 1 or more")
    if not 1 <= o.lora_rank <= 4096:
        raise InputError(f"LoRA rank must be between 1 and 4096, got {o.lora_rank}")


def estimate_training(spec: ModelSpec, options: TrainingOptions = TrainingOptions()) -> TrainingEstimate:
    o = options
    _check(spec, o)
    s = _shape(spec, o.batch, o.seq_len)
    lora = o.recipe in ("lora", "qlora")
    targets = lora_targets(spec, o.lora_targets) if lora else {}
    adapters = lora_parameters(spec, o.lora_rank, o.lora_targets) if lora else 0
    trainable = adapters if lora else spec.parameters
    state_bytes = 4 if (lora or o.recipe == "mixed") else 2  # peft keeps adapters in fp32

    weights = weights_bytes(spec, o.recipe)
    adapter_bytes = adapters * 4
    grads = trainable * state_bytes
    states, step_temp = optimizer_bytes(trainable, state_bytes, o.optimizer)
    workspaces = TRAINING_CUBLAS_WORKSPACES if o.first_in_process else 0
    resident = weights + adapter_bytes + states + workspaces

    n, v, h = s.n, s.vocab, s.hidden
    compute = 2
    per_layer = layer_saved_bytes(spec, s, o.recipe, targets, o.lora_rank)
    if o.checkpointing:
        layers_saved = s.layers * (4 if o.recipe == "mixed" else 2) * n * h
    else:
        first_layer = layer_saved_bytes(spec, s, o.recipe, targets, o.lora_rank, first=True)
        layers_saved = first_layer + (s.layers - 1) * per_layer
    outer = outer_saved_bytes(spec, s, o.recipe)
    saved = layers_saved + outer
    # autocast's bf16 weight copies (mixed): kept by the graph for every layer not checkpointed
    linear = linear_parameters(spec)
    lm_head = spec.breakdown.get("lm_head", 0) or spec.breakdown.get("embedding", 0)
    weight_copies = 0
    if o.recipe == "mixed":
        weight_copies = lm_head * 2 + (0 if o.checkpointing else linear * 2)

    logits = compute * n * v
    softcap = layout_of(spec).softcapped_logits
    # forward: logits (and the capped copy), their fp32 copy, log_softmax's output (in `saved`)
    # NOTE: bitsandbytes' 4-bit matmul dequantises the weight it multiplies to bf16 first (forward and backward)
    dequantised = 2 * max(fan_in * fan_out for fan_in, fan_out in _layer_linear_shapes(spec).values()) if o.recipe == "qlora" else 0
    resident += dequantised
    forward = resident + saved + weight_copies + logits * (2 if softcap else 1) + 4 * n * v
    # backward start: nll_loss's and log_softmax's fp32 gradients
    head_grad = lm_head * state_bytes if not lora else 0
    backward = resident + saved + weight_copies + 8 * n * v
    # end of backward: every gradient; tied embeddings add theirs into the LM head's
    tied_extra = spec.breakdown.get("embedding", 0) * state_bytes if (spec.tie_word_embeddings and not lora) else 0
    grads_end = resident + grads + tied_extra
    step = weights + adapter_bytes + states + workspaces + grads + step_temp
    moments = {"forward": forward, "backward": backward, "grads": grads_end, "step": step}
    if o.checkpointing:
        recompute = resident + layers_saved + outer - 4 * n * v + head_grad + per_layer + weight_copies
        if o.recipe == "mixed":
            recompute += linear // s.layers * 2
        moments["recompute"] = recompute
    peak_moment = max(moments, key=lambda k: moments[k])
    peak = moments[peak_moment]

    terms = {
        "weights": weights,
        "adapters": adapter_bytes,
        "gradients": grads,
        "optimizer_states": states,
        "optimizer_step_temporaries": step_temp,
        "saved_activations": layers_saved,
        "logits_and_loss": outer + logits + 4 * n * v,
        "autocast_weight_copies": weight_copies,
        "cublas_workspaces": workspaces,
        "dequantised_weight": dequantised,
    }
    gpu_rows = _gpus(peak, weights + adapter_bytes + grads + states + step_temp, o.gpu)
    return TrainingEstimate(
        model=spec.name,
        parameters=spec.parameters + adapters,
        trainable_parameters=trainable,
        recipe=o.recipe,
        optimizer=o.optimizer,
        batch=o.batch,
        seq_len=o.seq_len,
        checkpointing=o.checkpointing,
        terms=terms,
        moments=moments,
        peak_moment=peak_moment,
        peak_bytes=peak,
        gpus=gpu_rows,
        accelerate_training_bytes=4 * spec.parameters * _param_bytes(o.recipe if o.recipe != "qlora" else "full"),
        notes=(
            "peak_bytes: torch.cuda.max_memory_allocated over a training step (the second: optimizer states exist)",
            "moments: what is alive at the end of the forward, the start and end of the backward, the optimizer "
            "step, and (checkpointing) one layer's recompute; the largest is the peak",
            "gpus: count = 1 when the peak fits one GPU; otherwise GPUs that shard weights, gradients and states "
            "(FSDP / ZeRO-3) while each keeps its own activations",
        ),
    )


def _gpus(peak: int, shardable: int, gpu: GPU | None) -> list[dict]:
    """Per GPU kind: GPUs needed (1 if the peak fits; else the FSDP shard count where it fits)."""
    rows = []
    rest = peak - shardable  # what every GPU holds however the model is sharded: its activations, workspaces
    for g in [gpu] if gpu else [get_gpu(name) for name in LISTED_GPUS]:
        if peak <= g.memory_bytes:
            count = 1
        elif rest < g.memory_bytes:
            count = max(2, -(-shardable // (g.memory_bytes - rest)))
        else:
            count = None
        rows.append({"gpu": g.name, "memory_bytes": g.memory_bytes, "count": count, "fits_one": peak <= g.memory_bytes})
    return rows
