// Q8_0 and Q4_0 GGUF files run on their blocks under the GPU kernel plan (run here on CPU): the
// loader keeps the matrices packed (ModelConfig.packedWeights), and every linear without a bias
// reads them with the block matmuls of dsl/kernels/gguf-matmul.ts instead of a widened copy (2 to
// 4 times the memory in f16); the CPU plan widens them into its panels (runtime/model/
// compile-model.ts says why), computed here in f32 so that both plans can be held exact. The oracle is
// llama.cpp on a second file of the same random model whose matrices are F32 holding exactly the
// values the blocks decode to: next-token distributions at 64 positions (48 in one step, then 16
// decode steps) agree within 1e-5. llama.cpp on the block file itself quantizes its activations to
// 8 bits for these formats, so it only agrees to about 2e-2; that is checked too, as evidence that
// both read the blocks alike. qwen2's q/k/v carry biases and stay widened. A Mixtral file's expert
// stacks are blocks too, widened for the MoE kernels. With bf16 weights, steps
// of 16 rows or more write the blocks out in bf16 for the tensor-core matmul: a prompt's logits
// then equal those of the widened file run in bf16, exactly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { openOracle } from "../oracles/llamacpp.ts";
import { SingleSequence, softmax } from "../support/model-driver.ts";
import { assertPrefillMatchesTwin } from "../support/quantized-twin.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gguf-blocks-"));
const story =
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. One day, she saw a big red ball in the park. " +
  "She ran to the ball and kicked it very hard. The ball flew over the tree and landed in the pond.";

/** Largest |p - q| over every position and token. */
function maxProbDiff(ours: Float64Array[], theirs: Float32Array[]): number {
  return ours.reduce((worst, p, i) => p.reduce((w, v, t) => Math.max(w, Math.abs(v - theirs[i][t])), worst), 0);
}

for (const [arch, quant, kernelPlan] of [["llama", "q8_0", "gpu"], ["llama", "q4_0", "gpu"], ["qwen2", "q8_0", "gpu"], ["qwen2", "q4_0", "gpu"], ["llama", "q8_0", "cpu"], ["mixtral", "q4_0", "cpu"]] as const) {
  test(`${arch} ${quant} (${kernelPlan} kernel plan): ${kernelPlan === "gpu" ? "the linears read the blocks" : "the blocks widen into panels"}, giving llama.cpp's distributions on the widened weights`, async () => {
    const dir = join(workDir, `${arch}-${quant}-${kernelPlan}`);
    const blocks = writeRandomModel({ arch, outDir: join(dir, "blocks"), seed: 1, ggufQuant: quant });
    const widened = writeRandomModel({ arch, outDir: join(dir, "widened"), seed: 1, ggufQuant: quant, ggufQuantWidened: true });
    const loaded = await loadModel(blocks.ggufPath!);
    const packed = Object.entries(loaded.config.packedWeights ?? {});
    assert.ok(packed.length > 0 && packed.every(([, format]) => format === quant), `packed: ${packed.length} tensors`);
    // Mixtral's stacked experts are widened into their panels whatever the plan (dsl/kernels/moe.ts).
    if (arch !== "mixtral") assert.ok(packed.some(([name]) => name.endsWith("mlp.down_proj.weight")));

    const source = planModel(loaded.config, { kernelPlan }).source;
    const kernel = quant === "q8_0" ? "matmulQ8_0" : "matmulQ4_0";
    const layers = loaded.config.numHiddenLayers;
    const linears = [...source.matchAll(/\/\/ linear ([^\s:]+)(.*)/g)];
    const onBlocks = linears.filter((m) => / \(q\d_0 blocks\)$/.test(m[2]));
    const blockNames = new Set(linears.filter((m) => /q\d_0/.test(m[2])).map((m) => m[1]));
    const widenedNames = new Set(linears.map((m) => m[1]).filter((name) => !blockNames.has(name)));
    if (kernelPlan === "cpu") {
      assert.is(onBlocks.length, 0, "the CPU plan widens the blocks into its panels");
    } else {
      // Per layer: o_proj, gate_up_proj, down_proj, and qkv_proj unless it has a bias; then the LM head.
      assert.is(onBlocks.length, layers * (arch === "qwen2" ? 3 : 4) + 1, `${kernel} launches`);
      assert.ok(source.includes(`${kernel}_`), kernel);
      assert.equal([...widenedNames], arch === "qwen2" ? Array.from({ length: layers }, (_, l) => `model.layers.${l}.self_attn.qkv_proj.weight`) : [], "widened linears");
    }

    const oracle = await openOracle(widened.ggufPath!, { contextSize: 256 });
    const ids = oracle.tokenize(story, true).slice(0, 64);
    const expected = await oracle.nextTokenDistributions(ids);
    await oracle.dispose();
    const blockOracle = await openOracle(blocks.ggufPath!, { contextSize: 256 });
    const llamaCppOnBlocks = await blockOracle.nextTokenDistributions(ids);
    await blockOracle.dispose();

    const runner = createModelRunner(loaded, { maxNumBatchedTokens: 64, threads: 1, kernelPlan, dtype: "f32" });
    runner.initializeKvCache(8, 16);
    const seq = new SingleSequence(runner, 16, 8);
    const vocab = runner.config.vocabSize;
    const rows = (logits: Float32Array) => Array.from({ length: logits.length / vocab }, (_, r) => softmax(logits.subarray(r * vocab, (r + 1) * vocab)));
    const ours = [...rows(seq.feed(ids.slice(0, 48), true)), ...ids.slice(48).flatMap((id) => rows(seq.feed([id], true)))];
    const exact = maxProbDiff(ours, expected);
    const loose = maxProbDiff(ours, llamaCppOnBlocks);
    console.log(`  ${arch} ${quant}: max |Δp| ${exact.toExponential(2)} vs llama.cpp on the widened weights, ${loose.toExponential(2)} vs llama.cpp on the blocks`);
    assert.ok(exact < 1e-5, `vs the widened weights: ${exact}`);
    assert.ok(loose < 5e-2, `vs llama.cpp on the blocks: ${loose}`);
  });
}

test("a weight compiled as blocks of one format but stored in another is an error naming it", async () => {
  const { ggufPath } = writeRandomModel({ arch: "llama", outDir: join(workDir, "mismatch"), seed: 1, ggufQuant: "q8_0" });
  const loaded = await loadModel(ggufPath!);
  const name = "model.layers.0.self_attn.o_proj.weight";
  const claimed = { ...loaded, config: { ...loaded.config, packedWeights: { ...loaded.config.packedWeights, [name]: "q4_0" as const } } };
  try {
    createModelRunner(claimed, { maxNumBatchedTokens: 16, threads: 1, kernelPlan: "gpu" });
    assert.unreachable("the runner was created");
  } catch (e) {
    assert.instance(e, TsvllmError);
    assert.is((e as TsvllmError).code, "TSVLLM_ERR_MODEL_FILE");
    assert.is((e as TsvllmError).param, name);
    assert.match((e as TsvllmError).message, `tensor "${name}" (or the checkpoint tensors it is fused from) is not all q4_0 blocks`);
  }
});

test("bf16 weights under the GPU plan: from 16 rows the blocks are written out in bf16 for the tensor-core matmul, giving the widened file's logits", async () => {
  for (const quant of ["q8_0", "q4_0"]) {
    const dir = join(workDir, `llama-${quant}-gpu`);
    const loaded = await loadModel(join(dir, "blocks", "model.gguf"));
    const source = await assertPrefillMatchesTwin(loaded, join(dir, "widened", "model.gguf"), `llama ${quant}`);
    assert.is(source.match(new RegExp(`// linear \\S+: ${quant} blocks as bf16`, "g"))?.length, loaded.config.numHiddenLayers * 4 + 1, "every layer's linears and the LM head");
  }
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
