#!/usr/bin/env python3
"""Record a Hugging Face MoE model's routing for `moebench layer --routing-file DIR`.

Runs one forward of a Mixtral / Qwen2-MoE / Qwen3-MoE / OLMoE-style model (a router `gate`
linear layer in every sparse MoE block) on some text, captures every MoE layer's router logits
with forward hooks, and writes, per layer, what the model's router picked:

  DIR/manifest.json           {"format": "moebench-routing/1", "model": ..., "num_experts": E,
                               "top_k": k, "norm_topk_prob": ..., "runs": [{"name": "layer3",
                               "num_tokens": T, "expert_ids": "layer3.ids.i32",
                               "weights": "layer3.weights.f32", "logits": "layer3.logits.f32"}]}
  DIR/layer3.ids.i32          int32   [T][k]  the chosen experts, best first
  DIR/layer3.weights.f32      float32 [T][k]  their combine weights
  DIR/layer3.logits.f32       float32 [T][E]  the router logits

all raw little-endian, row-major: the format moebench's own --export-routing writes. The routing
is the one these models' MoE blocks compute from the logits: softmax over all experts in float32,
top-k, then (Mixtral always; Qwen/OLMoE when config.norm_topk_prob) renormalised to sum to one.
Replay it against the same model's shape (`moebench layer --model-path DIR_OF_CONFIG_JSON
--routing-file OUT`), whose router renormalises exactly when the config says so; moebench checks
that its router reproduces the file and exits 2 with the first token that differs otherwise.

  pip install torch transformers
  python3 bench/record_routing.py --model Qwen/Qwen1.5-MoE-A2.7B --out /tmp/routing \\
      --text-file prompt.txt --max-tokens 4096
  # synthetic weights from the config alone (no download of the weights), e.g. for tests:
  python3 bench/record_routing.py --model allenai/OLMoE-1B-7B-0924 --random-init --out /tmp/routing
  build/moebench layer --model-path path/with/config.json --routing-file /tmp/routing

DeepSeek-V3-style sigmoid routers (group-limited, score-correction bias) are not handled here:
their gates are not plain linear layers; record their topk_idx / topk_weight instead.
"""
import argparse
import json
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face model id or local directory")
    p.add_argument("--out", required=True, help="directory to write manifest.json and the arrays into")
    p.add_argument("--text-file", help="text to run (default: a built-in paragraph, repeated)")
    p.add_argument("--max-tokens", type=int, default=2048, help="tokens of the forward (default 2048)")
    p.add_argument("--layers", help="comma-separated MoE layer indices to keep (default: all)")
    p.add_argument("--random-init", action="store_true",
                   help="build the model from its config with random weights (downloads the config only)")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    return p.parse_args()


def _cuda():
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


TEXT = ("Mixture-of-experts layers send every token to a few of many experts. Which experts a real "
        "router picks, and how unevenly, decides how long the layer takes: ")


def router_settings(config):
    """(num_experts, top_k, renormalise) as the model's MoE block uses them."""
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    top_k = getattr(config, "num_experts_per_tok", None)
    if not experts or not top_k:
        sys.exit(f"record_routing.py: {config.model_type}: no num_experts / num_experts_per_tok in the config")
    # Mixtral renormalises always; Qwen2/3-MoE and OLMoE when norm_topk_prob says so.
    renorm = True if config.model_type == "mixtral" else bool(getattr(config, "norm_topk_prob", False))
    return int(experts), int(top_k), renorm


def find_gates(model, num_experts):
    """(layer index, gate module) for every sparse MoE block: a child named `gate` whose output
    has num_experts features (Linear, or a router module holding such a weight)."""
    import torch
    gates = []
    for name, module in model.named_modules():
        if not name.endswith(".gate"):
            continue
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or weight.shape[0] != num_experts:
            continue  # e.g. a gate_proj, or a shared expert's 1-wide gate
        parts = name.split(".")
        layer = next((int(p) for p in parts if p.isdigit()), len(gates))
        gates.append((layer, module))
    return gates


def main():
    args = parse_args()
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(args.model)
    num_experts, top_k, renorm = router_settings(config)
    dtype = getattr(torch, args.dtype)
    if args.random_init:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, torch_dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=dtype)
    model.to(args.device).eval()

    try:
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        text = open(args.text_file).read() if args.text_file else TEXT * (args.max_tokens // 8 + 1)
        ids = tokenizer(text, return_tensors="pt").input_ids[:, : args.max_tokens]
    except (OSError, ValueError):  # no tokenizer: random token ids
        ids = torch.randint(0, config.vocab_size, (1, args.max_tokens))
    ids = ids.to(args.device)

    gates = find_gates(model, num_experts)
    if not gates:
        sys.exit(f"record_routing.py: found no router gate with {num_experts} outputs in {args.model}")
    keep = {int(x) for x in args.layers.split(",")} if args.layers else None
    captured = {}

    def hook(layer):
        def capture(module, inputs, output):
            # A Linear gate returns the logits; newer router modules return a tuple whose first
            # element is the logits. Either way: [tokens, E] (batch and sequence flattened).
            logits = output[0] if isinstance(output, tuple) else output
            captured[layer] = logits.detach().reshape(-1, num_experts).float().cpu()
        return capture

    handles = [m.register_forward_hook(hook(layer)) for layer, m in gates if keep is None or layer in keep]
    with torch.no_grad():
        model(ids)
    for h in handles:
        h.remove()

    os.makedirs(args.out, exist_ok=True)
    runs = []
    for layer in sorted(captured):
        logits = captured[layer]
        # The routing of these models' MoE blocks: softmax in float32, top-k, optional renormalisation.
        probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
        weights, experts = torch.topk(probs, top_k, dim=-1)
        if renorm:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        stem = f"layer{layer}"
        experts.to(torch.int32).numpy().astype("<i4").tofile(os.path.join(args.out, stem + ".ids.i32"))
        weights.numpy().astype("<f4").tofile(os.path.join(args.out, stem + ".weights.f32"))
        logits.numpy().astype("<f4").tofile(os.path.join(args.out, stem + ".logits.f32"))
        runs.append({"name": stem, "num_tokens": int(logits.shape[0]), "expert_ids": stem + ".ids.i32",
                     "weights": stem + ".weights.f32", "logits": stem + ".logits.f32"})
    manifest = {"format": "moebench-routing/1", "model": args.model, "num_experts": num_experts, "top_k": top_k,
                "norm_topk_prob": renorm, "runs": runs}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    loads = np.bincount(torch.cat([torch.topk(captured[l], top_k).indices.flatten() for l in captured]).numpy(),
                        minlength=num_experts)
    print(f"record_routing.py: {len(runs)} MoE layers x {runs[0]['num_tokens']} tokens -> {args.out}; "
          f"all layers' busiest expert {loads.max()} / average {loads.mean():.1f}")


if __name__ == "__main__":
    main()
