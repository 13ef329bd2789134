// GPT-OSS as OpenAI publishes it (quant_method "mxfp4": every layer's experts as MXFP4 blocks and
// scales, runtime/loader/gpt-oss-experts.ts), written by models/random/mxfp4.ts beside its widened
// twin, the dequantized-layout f32 folder holding exactly the values the blocks stand for: the
// checkpoint gives the twin's distributions (CPU plan and GPU plan, run here on CPU), and the twin is
// not the unquantized model (the quantization moved the weights, so a misread block would show).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeMxfp4GptOss } from "../../models/random/mxfp4.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { assertMatchesTwin } from "../support/quantized-twin.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-mxfp4-"));
test.after(() => rmSync(workDir, { recursive: true, force: true }));

test("an MXFP4 GPT-OSS checkpoint gives its widened twin's distributions", async () => {
  const twin = await writeMxfp4GptOss(workDir, 4);
  const quantized = await loadModel(twin.quantizedDir);
  const expert = "model.layers.1.mlp.experts.down.weight";
  assert.is(quantized.tensors.get(expert)!.dtype, "bf16", "the experts are decoded to bf16");
  const [widened, source] = [await loadModel(twin.widenedDir), await loadModel(join(workDir, "source"))];
  const moved = tensorToF32(widened.tensors.get(expert)!).some((v, i) => v !== tensorToF32(source.tensors.get(expert)!)[i]);
  assert.ok(moved, "MXFP4 rounding changed the experts' values");
  await assertMatchesTwin(quantized, twin.widenedDir, "gpt_oss mxfp4", "bf16 experts decoded at load");
});

test.run();
