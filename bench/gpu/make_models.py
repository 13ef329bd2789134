"""Runs on the GPU machine: builds random-weight checkpoints with transformers from the configs
prepare.ts wrote (.gpu/hf/<name>/config.json), saves them as safetensors, and writes the reference
logits tsvllm is compared with; also times transformers `generate` on the throughput requests.
Usage: make_models.py GPU_DIR NAME [NAME ...] ; make_models.py GPU_DIR --generate NAME B P O"""
import json
import os
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

gpu_dir = sys.argv[1]


def prompt_ids(vocab, n, seed):
    return [(seed * 7919 + i * 104729) % (vocab - 10) + 5 for i in range(n)]


def checkpoint_dtype(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return torch.bfloat16 if json.load(f).get("torch_dtype") == "bfloat16" else torch.float32


def load(folder, dtype):
    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).cuda().eval()
    except TypeError:
        return AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype).cuda().eval()


# Fields transformers 5 declares as floats: a whole number in config.json (JSON from JavaScript
# writes 5.0 as 5) fails its strict validation, so such values are rewritten as floats first.
FLOAT_FIELDS = ("final_logit_softcapping", "attn_logit_softcapping", "rope_theta", "rms_norm_eps")


def normalize_config(folder):
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        config = json.load(f)
    for field in FLOAT_FIELDS:
        if isinstance(config.get(field), int):
            config[field] = float(config[field])
    with open(path, "w") as f:
        json.dump(config, f, indent=2)


def build(name):
    folder = os.path.join(gpu_dir, "hf", name)
    normalize_config(folder)
    config = AutoConfig.from_pretrained(folder)
    # A family default (Phi-3's 32000) can lie outside a test-shape vocabulary, which nn.Embedding
    # refuses; the pad token plays no part in the logits compared.
    if getattr(config, "pad_token_id", None) is not None and config.pad_token_id >= config.vocab_size:
        config.pad_token_id = None
    dtype = checkpoint_dtype(folder)
    if not os.path.exists(os.path.join(folder, "model.safetensors")) and not os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        torch.manual_seed(0)
        torch.set_default_dtype(dtype)
        with torch.device("cuda"):
            model = AutoModelForCausalLM.from_config(config)
        torch.set_default_dtype(torch.float32)
        model = model.to(dtype)
        model.save_pretrained(folder, safe_serialization=True, max_shard_size="2GB")
    else:
        model = load(folder, dtype)
    model.eval()
    ids = prompt_ids(config.vocab_size, 24, 1)
    if name == "stories260K-hf":  # a real prompt, BOS + "Once upon a time"
        ids = [1, 403, 407, 261, 378]
    param_dtypes = sorted({str(p.dtype) for p in model.parameters()})
    with torch.no_grad():
        logits = model(torch.tensor([ids], device="cuda")).logits[0].float().cpu().numpy()
        logits.astype("float32").tofile(os.path.join(folder, "reference_logits.f32"))
        if dtype != torch.float32:
            # tsvllm keeps activations in f32 over 16-bit weights: the same weights run in f32 are
            # its exact oracle; the 16-bit run above is what transformers users get.
            model = model.float()
            f32_logits = model(torch.tensor([ids], device="cuda")).logits[0].cpu().numpy()
            f32_logits.astype("float32").tofile(os.path.join(folder, "reference_logits_f32_compute.f32"))
            del model
            torch.cuda.empty_cache()
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump({"ids": ids, "vocab": config.vocab_size, "argmax": logits.argmax(-1).tolist()}, f)
    print("RESULT " + json.dumps({"kind": "hf-model", "model": name, "dtype": str(dtype), "paramDtypes": param_dtypes, "argmax": logits.argmax(-1).tolist()[:8]}), flush=True)


def generate(name, batch, prompt_len, output_len):
    folder = os.path.join(gpu_dir, "hf", name)
    config = AutoConfig.from_pretrained(folder)
    model = load(folder, checkpoint_dtype(folder))
    prompts = torch.tensor([prompt_ids(config.vocab_size, prompt_len, s) for s in range(batch)], device="cuda")
    kwargs = dict(max_new_tokens=output_len, min_new_tokens=output_len, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        model.generate(prompts[:1, :16], max_new_tokens=4, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        t0 = time.time()
        out = model.generate(prompts, **kwargs)
        torch.cuda.synchronize()
        seconds = time.time() - t0
        t0 = time.time()
        model.generate(prompts[:1], **kwargs)
        torch.cuda.synchronize()
        single = time.time() - t0
    generated = (out.shape[1] - prompt_len) * batch
    print("RESULT " + json.dumps({"kind": "hf-generate", "model": name, "batch": batch, "promptLen": prompt_len, "outputLen": output_len,
                                  "batchedOutputTokS": generated / seconds, "batch1DecodeTokS": output_len / single,
                                  "firstOutput": out[0, prompt_len:prompt_len + 8].tolist()}), flush=True)


if sys.argv[2] == "--generate":
    generate(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
else:
    for n in sys.argv[2:]:
        try:
            build(n)
        except Exception as e:  # one family's failure must not hide the others' results
            print("RESULT " + json.dumps({"kind": "hf-model", "model": n, "failed": repr(e)}), flush=True)
