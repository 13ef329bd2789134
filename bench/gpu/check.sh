#!/usr/bin/env bash
# The one prepared GPU check (run on a lent H200 by the device tool, from the repo root, after
# `npx tsx bench/gpu/prepare.ts` built .gpu/ here): kernels vs references, model parity vs
# transformers (every architecture at the tiny test shape, stories260K, the 8B shape), batch-1
# decode (CUDA graphs and eager) and batched throughput vs transformers `generate`, and the time
# from starting the OpenAI server on the 8B model to ready.
# Results are RESULT {json} lines, also collected into $OUT/results.jsonl.
set -uo pipefail
G="$PWD/.gpu"
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/node
export PYTHONUNBUFFERED=1 LD_LIBRARY_PATH="$G${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
xz -dc "$G/node.xz" > /tmp/node/node && chmod +x /tmp/node/node
NODE=/tmp/node/node
# cuBLASLt for the optional GEMM baseline: the one PyTorch's wheels bring.
CUBLAS=$(python3 -c 'import glob, site; print(":".join(glob.glob(site.getsitepackages()[0] + "/nvidia/*/lib")))' 2>/dev/null)
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH${CUBLAS:+:$CUBLAS}"
log() { echo "== $* ($(date +%T))"; }
run() { timeout "$1" "${@:2}" 2>&1 | tee -a "$OUT/log.txt" | grep -E "^RESULT|Error|error" | head -40; }

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
ONLY="${1:-all}"   # "8b" reruns only the kernels and the Llama-3-8B-shaped part
log roofline;         run 60 python3 bench/gpu/roofline.py
log kernels;          run 90 $NODE --max-old-space-size=32768 "$G/main.mjs" kernels
if [ "$ONLY" = all ]; then
TINY=$(cat "$G/tiny-models.txt")
log hf-small;         run 150 python3 bench/gpu/make_models.py "$G" $TINY stories260K-hf
log ours-small;       run 40 $NODE "$G/main.mjs" model "$G/hf/tiny-llama" tiny-llama 8 32 16
                      for m in $TINY stories260K-hf; do [ "$m" = tiny-llama ] || run 40 $NODE "$G/main.mjs" model "$G/hf/$m" "$m"; done
fi
log hf-8b;            run 150 python3 bench/gpu/make_models.py "$G" llama3-8b
log ours-8b;          run 230 $NODE --max-old-space-size=65536 "$G/main.mjs" model "$G/hf/llama3-8b" llama3-8b 32 32 32
log serve-8b;         run 90 $NODE --max-old-space-size=65536 "$G/main.mjs" serve "$G/hf/llama3-8b" llama3-8b
log hf-generate-8b;   run 120 python3 bench/gpu/make_models.py "$G" --generate llama3-8b 32 32 32
grep -h "^RESULT" "$OUT/log.txt" | sed 's/^RESULT //' > "$OUT/results.jsonl"
log done
