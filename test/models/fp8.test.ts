// fp8 checkpoints (e4m3 weights with a scale per tensor or per output, runtime/loader/fp8.ts): a
// random model quantized by models/random/fp8.ts, against its widened twin (an f32 folder holding
// exactly the values the fp8 weights stand for). Under the GPU kernel plan (run here on CPU) every
// linear without a bias reads its fp8 bytes with the weight-only fp8 matmul
// (dsl/kernels/fp8-matmul.ts matmulFp8Weights), fused q/k/v and gate/up stacked by rows with their
// scales, and the next-token distributions over a 40-token prompt and a decode step agree with the
// twin's within 1e-5; the CPU plan widens them at load and agrees exactly. llama is quant_method
// "fp8" (per-tensor scales, static input scales left unused); qwen2 (q/k/v with biases, which stay
// widened) is compressed-tensors with per-channel scales. Unsupported variants fail at load with
// the file and the field.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomFp8Model } from "../../models/random/fp8.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { assertMatchesTwin, loadErrorAfterEdit } from "../support/quantized-twin.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-fp8-"));
let llamaDir = "";

for (const [arch, quantMethod] of [["llama", "fp8"], ["qwen2", "compressed-tensors"]] as const) {
  test(`${arch} fp8 (${quantMethod}): the fp8 matmul and the widened load give the twin's distributions`, async () => {
    const model = await writeRandomFp8Model({ arch, outDir: join(workDir, arch), seed: 3, quantMethod });
    if (arch === "llama") llamaDir = model.quantizedDir;
    const quantized = await loadModel(model.quantizedDir);
    assert.equal(quantized.config.fp8, { quantMethod });
    const layers = quantized.config.numHiddenLayers;
    const kept = Object.values(quantized.config.packedWeights ?? {});
    assert.is(kept.length, layers * 7, "q, k, v, o, gate, up and down of every layer stay fp8");
    assert.ok(kept.every((d) => d === "fp8e4m3"));
    const fp8 = planModel(quantized.config, { kernelPlan: "gpu" }).source.match(/\/\/ linear \S+ \(fp8 weights\)/g) ?? [];
    assert.is(fp8.length, layers * (arch === "qwen2" ? 3 : 4), "o, gate_up, down and (without a bias) qkv run the fp8 matmul");
    await assertMatchesTwin(quantized, model.widenedDir, arch, "fp8 matmul");
  });
}

test("unsupported fp8 variants and fp8 tensors without a quantization_config fail at load, naming the file and the field", async () => {
  const quantization = (patch: Record<string, unknown>) => (c: Record<string, unknown>) => void (c.quantization_config = { ...(c.quantization_config as object), ...patch });
  for (const [edit, code, says] of [
    [quantization({ weight_block_size: [128, 128] }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /block-wise fp8 \(weight_block_size\) is not supported/],
    [quantization({ quant_method: "compressed-tensors", format: "pack-quantized", config_groups: {} }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /compressed-tensors format "pack-quantized" is not supported/],
    [quantization({ quant_method: "compressed-tensors", format: "float-quantized", config_groups: { g: { weights: { num_bits: 4, type: "int", strategy: "group" } } } }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /weights of type "int", 4 bits, strategy "group" are not supported/],
    [(c: Record<string, unknown>) => void delete c.quantization_config, "TSVLLM_ERR_MODEL_FILE", /tensor "model\.layers\.0\.\S+\.weight" is F8_E4M3 but config\.json has no fp8 quantization_config/],
  ] as const) {
    const e = await loadErrorAfterEdit(llamaDir, edit);
    assert.is(e.code, code);
    assert.match(e.message, llamaDir);
    assert.match(e.message, says);
  }
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
