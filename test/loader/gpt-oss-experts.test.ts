// GPT-OSS's experts at load (runtime/loader/gpt-oss-experts.ts): the dequantized layout (x @ W, gate
// and up interleaved by columns) transposed and split into the MoE kernels' [out, in] stacks, and
// OpenAI's MXFP4 blocks decoded, each checked element by element against values built here from
// the layouts' definitions (e2m1 decoded from its bits, not from a table; its -0 reads as 0).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bf16ToF32 } from "../../runtime/loader/convert.ts";
import { decodeMxfp4Rows, splitGptOssExperts } from "../../runtime/loader/gpt-oss-experts.ts";
import type { LoadedTensor, ModelConfig } from "../../runtime/loader/types.ts";
import { architectureConfig } from "../../models/test-shapes.ts";

/** An e2m1 code (sign, two exponent bits, one mantissa bit) as its value; exponent 0 is subnormal. */
function e2m1(code: number): number {
  const sign = code & 8 ? -1 : 1;
  const exponent = (code >> 1) & 3;
  const mantissa = code & 1;
  return sign * (exponent === 0 ? mantissa * 0.5 : (1 + mantissa / 2) * 2 ** (exponent - 1));
}

const [E, H, I] = [2, 64, 32];
const config: ModelConfig = { ...architectureConfig("gpt_oss"), hiddenSize: H, moe: { numExperts: E, numExpertsPerTok: 1, intermediateSize: I, normTopkProb: true, swigluLimit: 7 } };
const prefix = "model.layers.0.mlp.experts";
const f32 = (name: string, shape: number[], value: (...index: number[]) => number): LoadedTensor => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  data.forEach((_, flat) => {
    const index = shape.map((_, d) => Math.floor(flat / shape.slice(d + 1).reduce((a, b) => a * b, 1)) % shape[d]);
    data[flat] = value(...index);
  });
  return { name, dtype: "f32", shape, data };
};
const at = (t: LoadedTensor, row: number, column: number) => (t.dtype === "bf16" ? bf16ToF32(t.data as Uint16Array) : (t.data as Float32Array))[row * t.shape[1] + column];

test("the dequantized layout: gate from the even columns, up from the odd, each expert transposed; biases split alike", () => {
  const tensors = new Map<string, LoadedTensor>();
  for (const t of [
    f32(`${prefix}.gate_up_proj`, [E, H, 2 * I], (e, k, c) => e * 1e4 + k * 100 + c),
    f32(`${prefix}.gate_up_proj_bias`, [E, 2 * I], (e, c) => -(e * 100 + c)),
    f32(`${prefix}.down_proj`, [E, I, H], (e, i, n) => e * 1e4 + i * 100 + n + 0.5),
    f32(`${prefix}.down_proj_bias`, [E, H], (e, n) => e * 100 + n + 0.25),
  ]) tensors.set(t.name, t);
  splitGptOssExperts("test", config, tensors);
  assert.equal([...tensors.keys()].sort(), ["gate", "up", "down"].flatMap((p) => [`${prefix}.${p}.bias`, `${prefix}.${p}.weight`]).sort());
  const get = (name: string) => tensors.get(`${prefix}.${name}`)!;
  for (let e = 0; e < E; e++) {
    for (let i = 0; i < I; i++) {
      for (const k of [0, 7, H - 1]) {
        assert.is(at(get("gate.weight"), e * I + i, k), e * 1e4 + k * 100 + 2 * i);
        assert.is(at(get("up.weight"), e * I + i, k), e * 1e4 + k * 100 + 2 * i + 1);
      }
      assert.is((get("gate.bias").data as Float32Array)[e * I + i], -(e * 100 + 2 * i));
      assert.is((get("up.bias").data as Float32Array)[e * I + i], -(e * 100 + 2 * i + 1));
    }
    for (const n of [0, 9, H - 1]) {
      for (const i of [0, 5, I - 1]) assert.is(at(get("down.weight"), e * H + n, i), e * 1e4 + i * 100 + n + 0.5);
      assert.is((get("down.bias").data as Float32Array)[e * H + n], e * 100 + n + 0.25);
    }
  }
  assert.equal(get("gate.weight").shape, [E * I, H]);
  assert.equal(get("down.weight").shape, [E * H, I]);
});

test("MXFP4 blocks: two consecutive values a byte (the even one low), e2m1 codes times 2^(scale - 127), exact in bf16", () => {
  const [experts, rows, columns] = [1, 4, 64];
  const blocks = Uint8Array.from({ length: experts * rows * (columns / 32) * 16 }, (_, i) => (i * 37 + 11) & 0xff);
  const scaleValues = [127, 120, 134, 0, 250, 1, 126, 128];
  const scales = Uint8Array.from({ length: experts * rows * (columns / 32) }, (_, i) => scaleValues[i]);
  const expected = (row: number, column: number) => {
    const group = row * (columns / 32) + Math.floor(column / 32);
    const byte = blocks[group * 16 + Math.floor((column % 32) / 2)];
    const code = column % 2 === 0 ? byte & 0x0f : byte >> 4;
    return e2m1(code) * 2 ** (scales[group] - 127);
  };
  const all = bf16ToF32(decodeMxfp4Rows(blocks, scales, experts, rows, columns, 1, 0));
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) assert.ok(all[r * columns + c] === expected(r, c), `row ${r} column ${c}: ${all[r * columns + c]} vs ${expected(r, c)}`);
  const odd = bf16ToF32(decodeMxfp4Rows(blocks, scales, experts, rows, columns, 2, 1));
  for (let r = 0; r < rows / 2; r++) for (let c = 0; c < columns; c++) assert.ok(odd[r * columns + c] === expected(2 * r + 1, c), `odd row ${2 * r + 1} column ${c}`);
});

test("an MXFP4 checkpoint's experts load as the bf16 stacks of their decoded values; a missing scales tensor is named", () => {
  const blocks = (rows: number, columns: number) => ({ dtype: "u8" as const, shape: [E, rows, columns / 32, 16], data: Uint8Array.from({ length: E * rows * columns / 2 }, (_, i) => (i * 29 + 3) & 0xff) });
  const scales = (rows: number, columns: number) => ({ dtype: "u8" as const, shape: [E, rows, columns / 32], data: Uint8Array.from({ length: (E * rows * columns) / 32 }, (_, i) => 120 + (i % 9)) });
  const tensors = new Map<string, LoadedTensor>();
  const put = (name: string, t: Omit<LoadedTensor, "name">) => tensors.set(`${prefix}.${name}`, { ...t, name: `${prefix}.${name}` });
  put("gate_up_proj_blocks", blocks(2 * I, H));
  put("gate_up_proj_scales", scales(2 * I, H));
  put("down_proj_blocks", blocks(H, I));
  put("down_proj_scales", scales(H, I));
  put("gate_up_proj_bias", f32("", [E, 2 * I], (e, c) => e + c));
  put("down_proj_bias", f32("", [E, H], (e, n) => e - n));
  const gateUp = { blocks: tensors.get(`${prefix}.gate_up_proj_blocks`)!.data as Uint8Array, scales: tensors.get(`${prefix}.gate_up_proj_scales`)!.data as Uint8Array };
  const down = { blocks: tensors.get(`${prefix}.down_proj_blocks`)!.data as Uint8Array, scales: tensors.get(`${prefix}.down_proj_scales`)!.data as Uint8Array };
  const loaded = new Map(tensors);
  splitGptOssExperts("test", config, loaded);
  const all = bf16ToF32(decodeMxfp4Rows(gateUp.blocks, gateUp.scales, E, 2 * I, H, 1, 0));
  for (let e = 0; e < E; e++)
    for (const i of [0, 3, I - 1])
      for (const k of [0, 33, H - 1]) {
        assert.is(at(loaded.get(`${prefix}.gate.weight`)!, e * I + i, k), all[(e * 2 * I + 2 * i) * H + k]);
        assert.is(at(loaded.get(`${prefix}.up.weight`)!, e * I + i, k), all[(e * 2 * I + 2 * i + 1) * H + k]);
      }
  assert.equal(bf16ToF32(loaded.get(`${prefix}.down.weight`)!.data as Uint16Array), bf16ToF32(decodeMxfp4Rows(down.blocks, down.scales, E, H, I, 1, 0)));
  assert.is(loaded.get(`${prefix}.down.weight`)!.dtype, "bf16");

  const missing = new Map(tensors);
  missing.delete(`${prefix}.down_proj_scales`);
  assert.throws(() => splitGptOssExperts("/models/gpt-oss", config, missing), (e: Error) => /\/models\/gpt-oss: tensor "model\.layers\.0\.mlp\.experts\.down_proj_scales" is missing/.test(e.message));
});

test.run();
