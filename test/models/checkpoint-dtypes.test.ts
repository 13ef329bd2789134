// A 16-bit checkpoint runs on its own bits: with dtype auto, tsvllm keeps f16/bf16 weights as
// stored (packed into the dense matmuls' panels straight from the checkpoint's bits, stacked q/k/v
// and gate/up included) and widens them inside the kernels. Widening them to f32 at load instead
// (dtype f32) feeds every kernel the same values in the same order, so the logits must agree to
// f32 rounding. qwen2 adds a qkv bias; phi3 has its checkpoint's own fused qkv and gate/up.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-dtypes-"));
const tokens = Array.from({ length: 40 }, (_, i) => 5 + ((i * 37) % 400));

async function logits(dir: string, dtype: "auto" | "f32"): Promise<{ weightDType: string; logits: Float32Array }> {
  const runner = createModelRunner(await loadModel(dir), { maxNumBatchedTokens: tokens.length, threads: 1, dtype });
  runner.initializeKvCache(4, 16);
  return { weightDType: runner.artifact.dtypes.weight, logits: new SingleSequence(runner, 16, 4).feed(tokens, true) };
}

for (const [arch, dtype] of [["llama", "f16"], ["qwen2", "bf16"], ["phi3", "f16"]] as const) {
  test(`${arch} ${dtype} checkpoint: its own bits give the logits of the weights widened to f32 at load`, async () => {
    const { hfDir } = writeRandomModel({ arch, outDir: join(workDir, `${arch}-${dtype}`), dtype, seed: 3 });
    const auto = await logits(hfDir, "auto");
    const f32 = await logits(hfDir, "f32");
    assert.is(auto.weightDType, dtype, "dtype auto keeps the checkpoint's dtype");
    assert.is(f32.weightDType, "f32");
    const [stored, widened] = [auto.logits, f32.logits];
    assert.is(stored.length, widened.length);
    let maxDiff = 0;
    for (let i = 0; i < stored.length; i++) maxDiff = Math.max(maxDiff, Math.abs(stored[i] - widened[i]));
    assert.ok(maxDiff <= 1e-6, `max |logit difference| ${maxDiff}`);
    assert.ok(stored.some((v) => v !== 0), "the logits are not all zero");
  });
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
