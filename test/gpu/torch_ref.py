"""PyTorch CUDA peer for the GPU check (test/gpu/run.sh).

Loads the same Hugging Face GPT-2 folder that gpuCheck.js timed, with transformers'
GPT2LMHeadModel in fp32 on CUDA, times its forward on the same token ids, and checks our logits
(written by gpuCheck.js) against Hugging Face's as log-softmax, since TransformerLens's
center_unembed shifts every position's logits by a constant.

    python3 torch_ref.py --work DIR [--out torch.json] [--ours gpu.json]

With --ours (gpuCheck.js's results), it also prints the panel's first view and the incremental
step (+1 token after 1,000) on webgpu against their PyTorch CUDA peers: the plain forward of the
1,024 tokens (the issue's yardstick for the panel) and a cached step with past_key_values.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
from transformers import GPT2LMHeadModel


def timed(fn, runs):
    fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ms)


def cached_step(model, x, past_len):
    """One new token after past_len cached ones (use_cache=True, as generate does), logits row to host."""
    past = model(x[:, :past_len], use_cache=True).past_key_values
    new = x[:, past_len:past_len + 1]

    def step():
        if hasattr(past, "crop"):  # a DynamicCache grows in place: back to past_len each time
            past.crop(past_len)
        return model(new, past_key_values=past, use_cache=True).logits[0, -1].cpu()

    return step


def comparison(ours_path, rows):
    """The short table: webgpu (default placement) against PyTorch CUDA for the two paths."""
    ours = json.load(open(ours_path)).get("readouts", [])
    torch_ms = {(r["tokens"], r["what"]): r["medianMs"] for r in rows}
    forward = torch_ms.get((1024, "HF forward (logits)"))
    step = torch_ms.get((1001, "HF cached step (+1 after 1,000), logits row to host"))
    lines = []
    # The sweep is measured against our own forward of its prompt on the same provider (issue 11: ≤ 8×).
    own_forward = {r["provider"]: r["medianMs"] for r in ours if r["what"].startswith("sweep peer")}
    for r in ours:
        if r["what"].startswith("sweep"):
            if r["what"].startswith("sweep peer") or r["provider"] not in own_forward:
                continue
            peer = own_forward[r["provider"]]
            lines.append((r["provider"], r["what"] + " (vs our 32-token forward)", r["medianMs"], r["firstMs"], peer, r["medianMs"] / peer))
            continue
        peer = forward if r["what"].startswith("panel") or r["what"].startswith("forward") else step
        if peer is None:
            continue
        lines.append((r["provider"], r["what"], r["medianMs"], r["firstMs"], peer, r["medianMs"] / peer))
    print("\nwebgpu vs PyTorch CUDA fp32 (median ms; peer: HF forward of 1,024 tokens for the forward and the panel, HF cached step for +1)")
    print(f"{'provider':52s} | {'what':44s} | {'ours':>8s} | {'first':>8s} | {'torch':>7s} | ratio")
    for p, w, m, f, t, ratio in lines:
        print(f"{p:52s} | {w:44s} | {m:8.1f} | {f:8.1f} | {t:7.2f} | {ratio:5.1f}x")
    return [dict(zip(("provider", "what", "oursMs", "oursFirstMs", "torchMs", "ratio"), x)) for x in lines]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out")
    ap.add_argument("--ours", help="gpuCheck.js's results JSON, for the comparison table")
    args = ap.parse_args()
    folder = os.path.join(args.work, "gpt2-small-random")
    model = GPT2LMHeadModel.from_pretrained(folder).cuda().eval()
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 as the engine computes it
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    parity = {}
    with torch.inference_mode():
        for n in (128, 1024):
            ids = json.load(open(os.path.join(args.work, f"tokens_{n}.json")))
            x = torch.tensor([ids], device="cuda")
            rows.append({"tokens": n, "what": "HF forward (logits)", "medianMs": timed(lambda: model(x).logits, 20)})
            rows.append({
                "tokens": n,
                "what": "HF forward + hidden states + attentions",
                "medianMs": timed(lambda: model(x, output_hidden_states=True, output_attentions=True), 10),
            })
            rows.append({
                "tokens": n,
                "what": "HF forward, logits copied to host",
                "medianMs": timed(lambda: model(x).logits.cpu(), 10),
            })
            if n == 1024:
                rows.append({
                    "tokens": 1001,
                    "what": "HF cached step (+1 after 1,000), logits row to host",
                    "medianMs": timed(cached_step(model, x, 1000), 20),
                })
            if n == 128:
                ref = torch.log_softmax(model(x).logits.double(), -1)[0].cpu().numpy()
                for dev in ("cpu", "webgpu"):
                    path = os.path.join(args.work, f"logits_{dev}_{n}.f32")
                    if os.path.exists(path):
                        ours = np.fromfile(path, dtype=np.float32).reshape(n, -1).astype(np.float64)
                        ours = ours - np.log(np.exp(ours - ours.max(-1, keepdims=True)).sum(-1, keepdims=True)) - ours.max(-1, keepdims=True)
                        parity[dev] = float(np.abs(ours - ref).max())
    result = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "timings": rows, "logSoftmaxMaxAbsDiffVsHF": parity}
    for r in rows:
        print(f"torch cuda fp32 | {r['tokens']:5d} | {r['what']:52s} | {r['medianMs']:8.2f} ms")
    print("log-softmax max |ours - HF| at 128 tokens:", parity)
    if args.ours and os.path.exists(args.ours):
        result["comparison"] = comparison(args.ours, rows)
    if args.out:
        json.dump(result, open(args.out, "w"), indent=2)
    print("TORCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
