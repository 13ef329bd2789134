// Sparse MoE GGUFs whose expert stacks are in blocks: the CPU plan reads each stack as quantized
// panels (dsl/kernels/moe-quant-panels.ts) rather than widening it: a tiny-256 Qwen3-MoE in Q4_K
// (4-bit panels with offsets), a Mixtral in Q8_0 (8-bit, no offsets) and a Qwen2-MoE in Q4_0 with
// its shared expert, each against llama.cpp on a file holding the blocks' decoded values as F32
// (test/support/block-file-check.ts: within 1e-5 over a prompt step and single-token steps).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { GgufQuant } from "../../models/random/gguf-quantize.ts";
import { writeRandomModel, type ArchName } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { assertBlocksMatchLlamaCpp } from "../support/block-file-check.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gguf-moe-blocks-"));
test.after(() => rmSync(workDir, { recursive: true, force: true }));

for (const [arch, quant, panels] of [["qwen3_moe", "q4_K", "4-bit panels"], ["mixtral", "q8_0", "8-bit panels"], ["qwen2_moe", "q4_0", "4-bit panels"]] as [ArchName, GgufQuant, string][]) {
  test(`${arch} ${quant}: the experts read as ${panels}, llama.cpp's distributions on the decoded values`, async () => {
    const write = (widened: boolean) => writeRandomModel({ arch, shape: "tiny-256", outDir: join(workDir, `${arch}-${widened ? "widened" : "blocks"}`), seed: 2, ggufQuant: quant, ggufQuantWidened: widened });
    const [blocks, widened] = [write(false), write(true)];
    const loaded = await loadModel(blocks.ggufPath!);
    const { source } = planModel(loaded.config, { dtype: "f32" });
    const moeLaunches = source.split("\n").filter((line) => /\/\/ MoE .*(silu|weighted)/.test(line));
    assert.is(moeLaunches.length, 2 * loaded.config.numHiddenLayers, moeLaunches.join("\n"));
    assert.ok(moeLaunches.every((line) => line.includes(`(${panels}`)), `every expert launch reads ${panels}:\n${moeLaunches.join("\n")}`);
    await assertBlocksMatchLlamaCpp(loaded, blocks.ggufPath!, widened.ggufPath!, `${arch} ${quant}`);
  });
}

test.run();
