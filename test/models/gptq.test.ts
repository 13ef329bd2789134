// GPTQ checkpoints (4 bits, groups along the input, AutoGPTQ's layout), and AWQ's GEMM layout of
// the same values (repacked to GPTQ's at load): a random model quantized
// by models/random/gptq.ts, against its widened twin (an f32 folder holding exactly the values the
// quantized weights stand for). Under the GPU kernel plan (run here on CPU) every linear without a
// bias runs the int4 kernel (dsl/kernels/int4-matmul.ts) on qweight/scales/qzeros, fused q/k/v and
// gate/up side by side, and the next-token distributions over a 40-token prompt and a decode step
// agree with the twin's within 1e-5; the CPU plan widens them at load and agrees exactly. llama
// uses v1 zero points ("gptq", stored minus 1) and groups of 32; qwen2 (q/k/v with biases, which
// stay widened) uses "gptq_v2" and one group per row (group_size -1); mistral is AWQ, groups of 64.
// Unsupported variants fail at load with the file and the field.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomGptqModel } from "../../models/random/gptq.ts";
import type { QuantizedTwin } from "../../models/random/quantized-twin.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { assertMatchesTwin, assertPrefillMatchesTwin, loadErrorAfterEdit } from "../support/quantized-twin.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gptq-"));
const models = new Map<string, QuantizedTwin>();

for (const [arch, groupSize, checkpointFormat] of [["llama", 32, "gptq"], ["qwen2", -1, "gptq_v2"], ["mistral", 64, "awq"]] as const) {
  test(`${arch} ${checkpointFormat === "awq" ? "AWQ" : "GPTQ"} (group_size ${groupSize}, ${checkpointFormat}): the int4 kernel and the widened load give the twin's distributions`, async () => {
    const model = await writeRandomGptqModel({ arch, outDir: join(workDir, arch), seed: 2, groupSize, checkpointFormat });
    models.set(arch, model);
    const quantized = await loadModel(model.quantizedDir);
    assert.equal(quantized.config.gptq, { groupSize: groupSize === -1 ? null : groupSize, checkpointFormat: "gptq_v2" });
    const layers = quantized.config.numHiddenLayers;
    const int4 = planModel(quantized.config, { kernelPlan: "gpu" }).source.match(/\/\/ linear \S+ \(gptq int4\)/g) ?? [];
    assert.is(int4.length, layers * (arch === "qwen2" ? 3 : 4), "o, gate_up, down and (without a bias) qkv run the int4 kernel");
    await assertMatchesTwin(quantized, model.widenedDir, arch, "int4 kernel");
    const source = await assertPrefillMatchesTwin(quantized, model.widenedDir, arch);
    assert.is(source.match(/\/\/ linear \S+: gptq int4 weights as bf16/g)?.length, int4.length, "from 16 rows each int4 linear's weights are written out in bf16");
  });
}

const loadError = (edit: (config: Record<string, unknown>) => void) => loadErrorAfterEdit(models.get("llama")!.quantizedDir, edit);

test("unsupported GPTQ variants fail at load, naming the file and the field", async () => {
  const quantization = (patch: Record<string, unknown>) => (c: Record<string, unknown>) => void (c.quantization_config = { ...(c.quantization_config as object), ...patch });
  for (const [patch, says] of [
    [{ desc_act: true }, /GPTQ with desc_act \(act-order\) is not supported/],
    [{ bits: 8 }, /GPTQ at 8 bits is not supported \(4 is\)/],
    [{ quant_method: "exl2" }, /quant_method "exl2" is not supported \(gptq, awq, fp8, compressed-tensors fp8 and GPT-OSS's mxfp4 are\)/],
    [{ quant_method: "mxfp4" }, /quant_method "mxfp4" is supported for GPT-OSS's experts only, not model_type "llama"/],
  ] as const) {
    const e = await loadError(quantization(patch));
    assert.is(e.code, "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION");
    assert.is(e.param, "quantization_config");
    assert.match(e.message, "config.json");
    assert.match(e.message, says);
  }
  // A smaller group size than the tensors were written with: qzeros and scales have too few rows.
  const e = await loadError(quantization({ group_size: 16 }));
  assert.is(e.code, "TSVLLM_ERR_MODEL_FILE");
  assert.match(e.message, /tensor "model\.layers\.0\.\S+\.qzeros" is i32 \[\d+,\d+\], expected i32 \[\d+,\d+\]/);
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
