"""PyTorch CUDA peer for the GPU check (test/gpu/run.sh).

Loads the same Hugging Face GPT-2 folder that gpuCheck.js timed, with transformers'
GPT2LMHeadModel in fp32 on CUDA, times its forward on the same token ids, and checks our logits
(written by gpuCheck.js) against Hugging Face's as log-softmax, since TransformerLens's
center_unembed shifts every position's logits by a constant.

    python3 torch_ref.py --work DIR [--out torch.json]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out")
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
        print(f"torch cuda fp32 | {r['tokens']:5d} | {r['what']:42s} | {r['medianMs']:8.2f} ms")
    print("log-softmax max |ours - HF| at 128 tokens:", parity)
    if args.out:
        json.dump(result, open(args.out, "w"), indent=2)
    print("TORCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
