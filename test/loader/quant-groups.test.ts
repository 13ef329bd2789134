// GGUF blocks as quant groups (value = scale * q - min) and their panels: every value must round to
// exactly the dequantizer's f32, on blocks from the random models' quantizers and on random bytes
// (every sub-scale, negative d and dmin), and read back the same from the packed panels.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { quantizeRows, type GgufQuant } from "../../models/random/gguf-quantize.ts";
import { dequantizeIQ4_NL, dequantizeIQ4_XS, dequantizeMXFP4, dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_0, dequantizeQ4_1, dequantizeQ4_K, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ5_K, dequantizeQ6_K, dequantizeQ8_0 } from "../../runtime/loader/gguf-quants.ts";
import { commonQuantGroups, quantGroups, quantPanelFormat, type QuantGroups } from "../../runtime/loader/quant-groups.ts";
import { packQuantPanels, quantPanelValue } from "../../dsl/kernels/quant-panel-layout.ts";

type Format = GgufQuant | "q6_K";

/** Each format's dequantizer, bytes per block, values per block, the offsets of its f16 fields, and the grouping it must give. */
const formats: Record<Format, { dequantize: (bytes: Uint8Array) => Float32Array; bytes: number; values: number; halves: number[]; groupSize: 16 | 32; bits: 4 | 8; min: boolean }> = {
  q8_0: { dequantize: dequantizeQ8_0, bytes: 34, values: 32, halves: [0], groupSize: 32, bits: 8, min: false },
  q4_0: { dequantize: dequantizeQ4_0, bytes: 18, values: 32, halves: [0], groupSize: 32, bits: 4, min: true },
  q4_1: { dequantize: dequantizeQ4_1, bytes: 20, values: 32, halves: [0, 2], groupSize: 32, bits: 4, min: true },
  q5_0: { dequantize: dequantizeQ5_0, bytes: 22, values: 32, halves: [0], groupSize: 32, bits: 8, min: false },
  q5_1: { dequantize: dequantizeQ5_1, bytes: 24, values: 32, halves: [0, 2], groupSize: 32, bits: 8, min: true },
  q2_K: { dequantize: dequantizeQ2_K, bytes: 84, values: 256, halves: [80, 82], groupSize: 16, bits: 8, min: true },
  q3_K: { dequantize: dequantizeQ3_K, bytes: 110, values: 256, halves: [108], groupSize: 16, bits: 8, min: false },
  q4_K: { dequantize: dequantizeQ4_K, bytes: 144, values: 256, halves: [0, 2], groupSize: 32, bits: 4, min: true },
  q5_K: { dequantize: dequantizeQ5_K, bytes: 176, values: 256, halves: [0, 2], groupSize: 32, bits: 8, min: true },
  q6_K: { dequantize: dequantizeQ6_K, bytes: 210, values: 256, halves: [208], groupSize: 16, bits: 8, min: false },
  iq4_nl: { dequantize: dequantizeIQ4_NL, bytes: 18, values: 32, halves: [0], groupSize: 32, bits: 8, min: false },
  iq4_xs: { dequantize: dequantizeIQ4_XS, bytes: 136, values: 256, halves: [0], groupSize: 32, bits: 8, min: false },
  // No f16 fields: every E8M0 byte is a scale, the subnormal 2^-128 and the 2^127 that overflows times 12 among them.
  mxfp4: { dequantize: dequantizeMXFP4, bytes: 17, values: 32, halves: [], groupSize: 32, bits: 8, min: false },
};

let seed = 13;
const nextByte = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;

/** Random bytes as `values` values of `format`, each f16 field made finite (an all-ones exponent loses its top bit). */
function randomBlocks(format: Format, values: number): Uint8Array {
  const { bytes, values: perBlock, halves } = formats[format];
  const out = Uint8Array.from({ length: (values / perBlock) * bytes }, nextByte);
  for (let at = 0; at < out.length; at += bytes) {
    for (const h of halves) if ((out[at + h + 1] & 0x7c) === 0x7c) out[at + h + 1] &= ~0x40;
  }
  return out;
}

/** Rows of mixed-sign and shifted values through the random models' quantizer. */
const quantizedBlocks = (format: GgufQuant, values: number) => quantizeRows(Float32Array.from({ length: values }, (_, i) => 0.05 * uniform() + (i % 512 < 256 ? 0 : 0.2)), format);

const groupValue = (groups: QuantGroups, i: number) => {
  const g = Math.floor(i / groups.groupSize);
  return Math.fround(groups.scale[g] * groups.q[i] - (groups.min ? groups.min[g] : 0));
};

/**
 * Bit-exact equality, except that Q4_0's zero may differ in sign: the dequantizer's d * (q - 8) is
 * -0 for a negative d, while d * q - 8d is +0.
 */
function assertSame(format: Format, got: number, want: number, where: string): void {
  if (Object.is(got, want) || (format === "q4_0" && got === 0 && want === 0)) return;
  assert.unreachable(`${format} ${where}: ${got}, dequantized ${want}`);
}

const rows = 3;
const columns = 512;

for (const format of Object.keys(formats) as Format[]) {
  test(`${format}: scale * q - min is the dequantized f32 for every value`, () => {
    const sources = [randomBlocks(format, rows * columns)];
    if (format !== "q6_K") sources.push(quantizedBlocks(format, rows * columns));
    for (const blocks of sources) {
      const groups = quantGroups(format, blocks);
      const expected = formats[format];
      assert.equal([groups.groupSize, groups.bits, groups.min !== undefined], [expected.groupSize, expected.bits, expected.min]);
      assert.is(groups.scale.length, (rows * columns) / groups.groupSize);
      const want = expected.dequantize(blocks);
      assert.ok(want.some((v) => v !== 0), "the blocks hold non-zero values");
      for (let i = 0; i < want.length; i++) {
        if (groups.bits === 4) assert.ok(groups.q[i] >= 0 && groups.q[i] <= 15, `${format} value ${i}: 4-bit q ${groups.q[i]}`);
        assertSame(format, groupValue(groups, i), want[i], `value ${i}`);
      }
    }
  });
}

test("formats that are not GGML blocks are rejected by name", () => {
  assert.throws(() => quantGroups("f16", new Uint8Array(64)), (error: Error) => error instanceof RangeError && /f16/.test(error.message));
  assert.throws(() => quantGroups("fp8e4m3", new Uint8Array(64)), /fp8e4m3/);
});

test("commonQuantGroups of a Q4_K and a Q6_K piece: 16-value groups, 8 bits, zero mins for Q6_K, every value as before", () => {
  const pieces = [{ format: "q4_K", rows: 2 }, { format: "q6_K", rows: 3 }] as const;
  const blocks = pieces.map((piece) => randomBlocks(piece.format, piece.rows * columns));
  const common = commonQuantGroups(blocks.map((bytes, i) => quantGroups(pieces[i].format, bytes)), columns);
  assert.equal([common.groupSize, common.bits, common.q.length, common.scale.length], [16, 8, 5 * columns, (5 * columns) / 16]);
  let at = 0;
  pieces.forEach((piece, p) => {
    const want = formats[piece.format].dequantize(blocks[p]);
    for (let i = 0; i < want.length; i++) assertSame(piece.format, groupValue(common, at + i), want[i], `fused value ${at + i}`);
    at += want.length;
  });
  assert.ok(common.min?.subarray((2 * columns) / 16).every((m) => m === 0), "Q6_K's rows have zero offsets");
  const single = quantGroups("q8_0", randomBlocks("q8_0", columns));
  assert.is(commonQuantGroups([single], columns), single);
});

/** Every (n, k) of the panels against the dequantized weight, and the padding rows (and their bytes) zero. */
function assertPanels(format: Format, panelRows: number, panelColumns: number, bits: 4 | 8): void {
  const blocks = randomBlocks(format, panelRows * panelColumns);
  const panels = packQuantPanels(quantGroups(format, blocks), panelRows, panelColumns);
  assert.is(panels.bits, bits);
  assert.ok(bits === 4 ? panels.values instanceof Uint8Array : panels.values instanceof Int8Array);
  const want = formats[format].dequantize(blocks);
  for (let n = 0; n < panelRows; n++) {
    for (let k = 0; k < panelColumns; k++) assertSame(format, quantPanelValue(panels, panelRows, panelColumns, n, k), want[n * panelColumns + k], `panel (${n}, ${k})`);
  }
  for (let n = panelRows; n < 32; n++) {
    for (let k = 0; k < panelColumns; k++) assert.ok(Object.is(quantPanelValue(panels, panelRows, panelColumns, n, k), 0), `${format} padding (${n}, ${k})`);
  }
  // The last panel's rows 3-15 are padding: every stored byte, scale and min for them is zero.
  const padded = (array: ArrayLike<number>) => Array.from(array).filter((_, i) => i >= array.length / 2 && i % 16 >= panelRows - 16);
  for (const array of [panels.values, panels.scales, panels.mins ?? []]) assert.ok(padded(array).every((v) => v === 0), `${format} padding storage`);
}

test("packQuantPanels: 19 rows of 4-bit Q4_K and Q4_1 (K = 512) read back exactly, padding rows zero", () => {
  assertPanels("q4_K", 19, 512, 4);
  assertPanels("q4_1", 19, 512, 4);
});

test("packQuantPanels: 19 rows of 8-bit Q6_K, Q5_K, Q3_K and Q8_0 read back exactly, padding rows zero", () => {
  for (const format of ["q6_K", "q5_K", "q3_K", "q8_0"] as const) assertPanels(format, 19, 512, 8);
});

test("packQuantPanels: 4-bit Q4_0 with K = 96 (three groups) packs as nibbles too", () => {
  assertPanels("q4_0", 19, 96, 4);
});

test("packQuantPanels: the 4-bit layout puts k = 2h in the low nibble of byte h and k = 2h + 1 in the high one", () => {
  // q[n, k] = (64 n + k) % 16 = k % 16.
  const groups: QuantGroups = { groupSize: 32, bits: 4, q: Int8Array.from({ length: 2 * 64 }, (_, i) => i % 16), scale: Float32Array.of(1, 1, 1, 1), min: undefined };
  const panels = packQuantPanels(groups, 2, 64);
  assert.equal([panels.values.length, panels.scales.length], [32 * 16, 2 * 16]);
  // Byte (p 0, h 5, row 1): q[1, 10] = 10 low, q[1, 11] = 11 high.
  assert.is(panels.values[5 * 16 + 1], 0xba);
  // Byte (h 12, row 0): q[0, 24] = 8 low, q[0, 25] = 9 high; rows 2-15 of the panel are padding.
  assert.is(panels.values[12 * 16 + 0], 0x98);
  assert.is(panels.values[12 * 16 + 2], 0);
});

test("quantPanelFormat names, from the dtypes alone, the format packQuantPanels gives the pieces' common grouping", () => {
  const cases: [Format[], number][] = [...(Object.keys(formats) as Format[]).map((format): [Format[], number] => [[format], 512]), [["q4_K", "q6_K"], 512], [["q4_K", "q4_K", "q4_1"], 512], [["q4_0", "q8_0"], 256], [["q4_0"], 96], [["q4_1", "q4_0"], 160]];
  for (const [dtypes, width] of cases) {
    const groups = commonQuantGroups(dtypes.map((format) => quantGroups(format, randomBlocks(format, 2 * width))), width);
    const panels = packQuantPanels(groups, 2 * dtypes.length, width);
    assert.equal(quantPanelFormat(dtypes, width), { bits: panels.bits, groupSize: panels.groupSize, hasMin: panels.mins !== undefined }, `${dtypes.join(" + ")}, K = ${width}`);
  }
});

test.run();
