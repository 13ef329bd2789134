// fp8 checkpoints (e4m3 weights with a scale per tensor, per output or per block, runtime/loader/fp8.ts): a
// random model quantized by models/random/fp8.ts, against its widened twin (an f32 folder holding
// exactly the values the fp8 weights stand for). Checkpoints that quantize activations run W8A8 in
// the GPU kernel plan (run here on CPU; dsl/kernels/fp8-mma.ts): llama, quant_method "fp8" with
// per-tensor scales and a static activation scheme (an input_scale per linear), and qwen2 (q/k/v
// with biases, which stay widened), compressed-tensors with per-channel scales and dynamic
// per-token activations. Each departs from the twin by e4m3's rounding of the activations, and a
// prompt at once (e4m3 tensor cores) equals it token by token (the GEMV form) but for summation
// order; static input scales 16 times too small saturate and leave the twin far behind. A llama
// with per-channel weights and unquantized activations (compressed-tensors without
// input_activations) runs weight-only: every linear without a bias reads its fp8 bytes with
// dsl/kernels/fp8-matmul.ts matmulFp8Weights, fused q/k/v and gate/up stacked by rows with their
// scales, and the distributions over a 40-token prompt and a decode step agree with the twin's
// within 1e-5; with bf16 weights, steps of 16 rows or more write each fp8 linear's weights out in
// bf16 for the tensor-core matmul, and a prompt's logits equal the bf16 twin's exactly. So does
// llama block-wise (weight_scale_inv with 32 x 48 blocks, which leave short blocks at the end of
// each row), on matmulFp8BlockWeights; qwen2's block strategy (16 x 32, whole blocks) runs W8A8
// with a scale per token and group of 32 inputs, as vLLM runs DeepSeek-V3's. The CPU plan widens
// every fp8 weight at load and agrees with the twin exactly. --quantization fp8
// (quantizeFp8AtLoad) turns the unquantized llama into the very bytes and scales the writer's
// per-tensor checkpoint holds (its e4m3 rounding is dsl/dtype.ts' plain arithmetic, the loader's
// works on the bits), with dynamic activations as vLLM's, so W8A8. Unsupported variants fail at
// load with the file and the field.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { f32ToBf16Bits, f32ToF16Bits, f32ToFp8e4m3Bits, fp8e4m3BitsToF32 } from "../../dsl/dtype.ts";
import { writeRandomFp8Model } from "../../models/random/fp8.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadSamplerAddon } from "../../runtime/engine/sampler-addon.ts";
import { fp8Bits, jsFp8Quantizer, nativeFp8Quantizer, normalizeFp8, quantizeFp8AtLoad, type Fp8QuantizeAddon } from "../../runtime/loader/fp8.ts";
import type { LoadedTensor, ModelConfig } from "../../runtime/loader/types.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { assertMatchesTwin, assertPrefillMatchesTwin, assertW8A8MatchesTwin, loadErrorAfterEdit } from "../support/quantized-twin.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-fp8-"));
// W8A8's departure from the twin (e4m3 activations), and a prompt at once against token by token.
const w8a8Bound = 0.1;
const stepwiseBound = 1e-5;

/** Every fp8 linear of the GPU plan quantizes its input (per token, or by its static input scale) and runs W8A8: the GEMV form under 16 rows, e4m3 tensor cores (32- and 64-row tiles) from there; no weights are written out widened. */
function assertW8A8Plan(config: ModelConfig, fp8Linears: number, scheme: "dynamic" | "static"): void {
  const source = planModel(config, { kernelPlan: "gpu", dtype: "bf16" }).source;
  const block = config.fp8?.weightBlockSize;
  const blocks = block ? `, ${block[0]} x ${block[1]} blocks` : "";
  const quantize = block ? `, a scale per row and group of ${block[1]}` : scheme === "dynamic" ? ", a scale per row" : " by its input scale";
  const count = (comment: string) => source.split("\n").filter((line) => new RegExp(`// linear \\S+${comment}$`).test(line.trim())).length;
  assert.is(count(`: x to e4m3${quantize}`), fp8Linears);
  assert.is(count(` \\(fp8 W8A8${blocks}\\)`), fp8Linears);
  assert.is(count(` on fp8 tensor cores${blocks}`), 2 * fp8Linears);
  assert.not.match(source, /fp8 weights as bf16/);
}
let llamaDir = "";
let llamaBlockDir = "";
// The random llama's linear inputs reach a few units: 1/64 puts e4m3's 448 at 7 (a calibration's max |x| / 448).
const staticInputScale = 1 / 64;

for (const [arch, quantMethod, activationScheme, weightBlockSize] of [
  ["llama", "fp8", "static", undefined],
  ["qwen2", "compressed-tensors", "dynamic", undefined],
  ["llama", "compressed-tensors", "none", undefined],
  ["llama", "fp8", "dynamic", [32, 48]],
  ["qwen2", "compressed-tensors", "dynamic", [16, 32]],
] as const) {
  const block = weightBlockSize ? `, ${weightBlockSize.join(" x ")} blocks` : "";
  // Block-wise W8A8 needs whole blocks along every linear's inputs: qwen2's 32 divide 64 and 128, llama's 48 do not.
  const w8a8 = activationScheme !== "none" && (!weightBlockSize || weightBlockSize[1] === 32);
  test(`${arch} fp8 (${quantMethod}${block}, ${activationScheme} activations): ${w8a8 ? "W8A8" : "the weight-only fp8 matmul"} and the widened load against the twin`, async () => {
    const dir = join(workDir, `${arch}-${quantMethod}${weightBlockSize ? "-block" : ""}`);
    const model = await writeRandomFp8Model({ arch, outDir: dir, seed: 3, quantMethod, activationScheme, inputScale: staticInputScale, weightBlockSize: weightBlockSize && [...weightBlockSize] });
    if (quantMethod === "fp8") weightBlockSize ? (llamaBlockDir = model.quantizedDir) : (llamaDir = model.quantizedDir);
    const quantized = await loadModel(model.quantizedDir);
    assert.equal(quantized.config.fp8, weightBlockSize ? { quantMethod, activationScheme, weightBlockSize: [...weightBlockSize] } : { quantMethod, activationScheme });
    const layers = quantized.config.numHiddenLayers;
    const kept = Object.values(quantized.config.packedWeights ?? {});
    assert.is(kept.length, layers * 7, "q, k, v, o, gate, up and down of every layer stay fp8");
    assert.ok(kept.every((d) => d === "fp8e4m3"));
    const fp8Linears = layers * (arch === "qwen2" ? 3 : 4);
    if (w8a8) {
      assertW8A8Plan(quantized.config, fp8Linears, activationScheme);
      await assertW8A8MatchesTwin(quantized, model.widenedDir, `${arch} W8A8 ${activationScheme}${block}`, w8a8Bound, stepwiseBound);
      if (activationScheme === "static") await assertInputScalesTaken(model.quantizedDir, model.widenedDir);
      return;
    }
    const fp8 = planModel(quantized.config, { kernelPlan: "gpu" }).source.match(weightBlockSize ? /\/\/ linear \S+ \(fp8 weights, \d+ x \d+ blocks\)/g : /\/\/ linear \S+ \(fp8 weights\)/g) ?? [];
    assert.is(fp8.length, fp8Linears, "o, gate_up, down and (without a bias) qkv run the fp8 matmul");
    await assertMatchesTwin(quantized, model.widenedDir, arch, "fp8 matmul");
    const source = await assertPrefillMatchesTwin(quantized, model.widenedDir, arch);
    assert.is(source.match(/\/\/ linear \S+: fp8 weights as bf16/g)?.length, fp8.length, "from 16 rows each fp8 linear's weights are written out in bf16");
  });
}

/** With input scales 16 times too small the activations saturate at 448 and the distributions leave the twin's by far more than W8A8's rounding: the static scales are what the quantizer divides by. */
async function assertInputScalesTaken(quantizedDir: string, widenedDir: string): Promise<void> {
  const squeezed = await loadModel(quantizedDir);
  for (const t of squeezed.tensors.values()) if (t.name.endsWith(".input_scale")) t.data = Float32Array.of(staticInputScale / 16);
  const error = await assertW8A8MatchesTwin(squeezed, widenedDir, "llama W8A8 static, input scales / 16", 1, stepwiseBound);
  assert.ok(error > 2 * w8a8Bound, `saturated activations: ${error}`);
}

/** Every e4m3 value, the midpoints to the next (ties to even) and a hair either side of them, both signs, and the specials. */
function e4m3Edges(): number[] {
  const values: number[] = [0, -0, NaN, Infinity, -Infinity, 448, -448, 449, 464, 465, 1e9, -1e9, 2 ** -6, 2 ** -9, 2 ** -10, 3 * 2 ** -11, 2 ** -30];
  for (let bits = 0; bits < 0x7e; bits++) {
    const v = fp8e4m3BitsToF32(bits);
    const next = fp8e4m3BitsToF32(bits + 1);
    for (const x of [v, (v + next) / 2, Math.fround((v + next) / 2 * (1 + 2 ** -20)), Math.fround((v + next) / 2 * (1 - 2 ** -20))]) values.push(x, -x);
  }
  return values;
}

test("the loader's e4m3 rounding on the bits equals the plain arithmetic one", () => {
  const values = e4m3Edges();
  let seed = 5;
  for (let i = 0; i < 20000; i++) values.push(Math.fround(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 2 ** ((i % 40) - 20)));
  for (const v of values) assert.is(fp8Bits(v), f32ToFp8e4m3Bits(Math.fround(v)), `${v}`);
});

test("the native fp8 quantizer gives the JS one's scale and bytes for f32, f16 and bf16 tensors", () => {
  const native = nativeFp8Quantizer(loadSamplerAddon() as unknown as Fp8QuantizeAddon);
  let seed = 11;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 2;
  // Spread over 30 binades so every e4m3 binade, the subnormals and the flush to zero are hit; the
  // length is not a multiple of the native chunk.
  const values = Float32Array.from({ length: 3 * 65536 + 72 }, (_, i) => random() * 2 ** ((i % 30) - 20));
  // Its max is 448, so the scale is 1 and the rounding meets every code, every tie and a hair
  // either side of each unscaled.
  const edges = Float32Array.from(e4m3Edges().filter((v) => Number.isFinite(v) && Math.abs(v) <= 448));
  const tensors: LoadedTensor[] = [
    { name: "f32", dtype: "f32", shape: [values.length / 8, 8], data: values },
    { name: "f16", dtype: "f16", shape: [values.length / 8, 8], data: Uint16Array.from(values, f32ToF16Bits) },
    { name: "bf16", dtype: "bf16", shape: [values.length / 8, 8], data: Uint16Array.from(values, f32ToBf16Bits) },
    { name: "zero", dtype: "f32", shape: [2, 8], data: new Float32Array(16) },
    { name: "edges", dtype: "f32", shape: [edges.length], data: edges },
  ];
  for (const t of tensors) {
    const expected = new Uint8Array(t.data.length);
    const actual = new Uint8Array(t.data.length);
    assert.is(native(t, actual), jsFp8Quantizer(t, expected), `${t.name} scale`);
    assert.ok(expected.some((b) => b !== 0) || t.name === "zero", `${t.name} quantizes to something`);
    const differ = actual.findIndex((b, i) => b !== expected[i]);
    assert.is(differ, -1, `${t.name}: first differing byte`);
  }
});

test("--quantization fp8 quantizes the unquantized llama at load to the per-tensor checkpoint's bytes, and runs it W8A8 (dynamic activations, as vLLM's online fp8)", async () => {
  const online = await loadModel(join(workDir, "llama-fp8", "source"));
  quantizeFp8AtLoad(online, nativeFp8Quantizer(loadSamplerAddon() as unknown as Fp8QuantizeAddon));
  const stored = await loadModel(llamaDir);
  assert.equal(online.config.packedWeights, stored.config.packedWeights);
  for (const name of Object.keys(stored.config.packedWeights ?? {})) {
    assert.equal(online.tensors.get(name)!.data, stored.tensors.get(name)!.data, name);
    assert.equal(online.tensors.get(`${name}_scale`)!.data, stored.tensors.get(`${name}_scale`)!.data, `${name}_scale`);
  }
  assert.equal(online.config.fp8, { quantMethod: "fp8", activationScheme: "dynamic" }, "vLLM's online fp8 quantizes activations dynamically");
  assertW8A8Plan(online.config, online.config.numHiddenLayers * 4, "dynamic");
  await assertW8A8MatchesTwin(online, join(workDir, "llama-fp8", "widened"), "llama quantized at load, W8A8", w8a8Bound, stepwiseBound);
  assert.throws(() => quantizeFp8AtLoad(stored), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && /is quantized already/.test(e.message));
});

test("unsupported fp8 variants and fp8 tensors without a quantization_config fail at load, naming the file and the field", async () => {
  const quantization = (patch: Record<string, unknown>) => (c: Record<string, unknown>) => void (c.quantization_config = { ...(c.quantization_config as object), ...patch });
  for (const [edit, code, says] of [
    [quantization({ weight_block_size: [128, 100] }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /fp8 blocks of 128 x 100 are not supported/],
    [quantization({ weight_block_size: [128] }), "TSVLLM_ERR_MODEL_FILE", /field "weight_block_size" should be a list of 2 positive integers/],
    [quantization({ weight_block_size: [32, 32] }), "TSVLLM_ERR_MODEL_FILE", /tensor "model\.layers\.0\.\S+\.weight" is F8_E4M3 with no \S+\.weight_scale_inv beside it/],
    [quantization({ quant_method: "compressed-tensors", format: "pack-quantized", config_groups: {} }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /compressed-tensors format "pack-quantized" is not supported/],
    [quantization({ quant_method: "compressed-tensors", format: "float-quantized", config_groups: { g: { weights: { num_bits: 4, type: "int", strategy: "group" } } } }), "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION", /weights of type "int", 4 bits, strategy "group" are not supported/],
    ...[{ strategy: "tensor" }, { strategy: "block", block_structure: [32, 32] }].map((other) => [
      quantization({ quant_method: "compressed-tensors", format: "float-quantized", config_groups: { a: { weights: { num_bits: 8, type: "float", strategy: "block", block_structure: [16, 32] } }, b: { weights: { num_bits: 8, type: "float", ...other } } } }),
      "TSVLLM_ERR_UNSUPPORTED_QUANTIZATION",
      /groups that mix block-wise fp8 with other strategies or block sizes are not supported/,
    ] as const),
    [(c: Record<string, unknown>) => void delete c.quantization_config, "TSVLLM_ERR_MODEL_FILE", /tensor "model\.layers\.0\.\S+\.weight" is F8_E4M3 but config\.json has no fp8 quantization_config/],
  ] as const) {
    const e = await loadErrorAfterEdit(llamaDir, edit);
    assert.is(e.code, code);
    assert.match(e.message, llamaDir);
    assert.match(e.message, says);
  }
  const e = await loadErrorAfterEdit(llamaBlockDir, quantization({ weight_block_size: [16, 48] }));
  assert.match(e.message, /tensor "model\.layers\.0\.\S+\.weight_scale_inv" is \[\d+,\d+\], expected one scale per 16 x 48 block of \[\d+, \d+\]/);
});

test("a static activation scheme needs one positive input scale beside each fp8 weight, named by file and tensor", () => {
  const weight = "model.layers.0.mlp.down_proj.weight";
  const inputScale = "model.layers.0.mlp.down_proj.input_scale";
  const config = (): ModelConfig => ({ fp8: { quantMethod: "fp8", activationScheme: "static" } }) as ModelConfig;
  const tensors = (scale?: LoadedTensor) => new Map<string, LoadedTensor>([
    [weight, { name: weight, dtype: "fp8e4m3", shape: [8, 8], data: new Uint8Array(64) }],
    [`${weight}_scale`, { name: `${weight}_scale`, dtype: "f32", shape: [], data: Float32Array.of(0.5) }],
    ...(scale ? [[inputScale, scale] as const] : []),
  ]);
  const ok = tensors({ name: inputScale, dtype: "f32", shape: [], data: Float32Array.of(0.25) });
  normalizeFp8("ckpt.safetensors", config(), ok);
  assert.equal(ok.get(inputScale), { name: inputScale, dtype: "f32", shape: [1], data: Float32Array.of(0.25) });
  for (const [scale, says] of [
    [undefined, /is missing: the fp8 activation scheme is static/],
    [{ name: inputScale, dtype: "f32", shape: [2], data: Float32Array.of(0.25, 0.5) }, /is \[2\], expected one scale per tensor/],
    [{ name: inputScale, dtype: "f32", shape: [], data: Float32Array.of(0) }, /is not a positive finite number/],
  ] as const) {
    const e = (() => {
      try {
        normalizeFp8("ckpt.safetensors", config(), tensors(scale as LoadedTensor | undefined));
      } catch (error) {
        return error as TsvllmError;
      }
      throw new Error("normalized");
    })();
    assert.is(e.code, "TSVLLM_ERR_MODEL_FILE");
    assert.match(e.message, `ckpt.safetensors: tensor "${inputScale}"`);
    assert.match(e.message, says);
  }
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));

test.run();
