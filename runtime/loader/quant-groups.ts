// GGUF blocks as quant groups: small integers q with an f32 scale and offset per group of G
// consecutive values along a row, value = scale * q - min, the form the CPU's quantized matmul
// kernels read (dsl/kernels/quant-panel-layout.ts packs it into their panels). The bit fields are
// read by gguf-quants.ts's raw-quant decoders, the ones its dequantizers use; the offsets, scales
// and mins are formed here, and each scale and min is an f32 product of the block's f16 factor and
// its small integer sub-scale (MXFP4's: its power of two), so scale * q - min rounds to the
// dequantizer's f32 value.
// quantPanelFormat tells the model compiler, from the dtypes alone, which panels a linear gets.
import type { QuantPanelFormat } from "../../dsl/kernels/matmul-quant-panels.ts";
import type { BlockDType, TensorDType } from "./types.ts";
import { blockCount, half, iq4_xs, iq4Grid, iq4XsScale, kQuants, legacyLayouts, legacyQuants, mxfp4, mxfp4Levels, mxfp4Scale, nibbleQuants, q2_K, q2KScaleMin, q3_K, q3KScale, q4_K, q4KScaleMin, q5_K, q6_K, q6KQuants, q8_0, twoBitQuants } from "./gguf-quants.ts";

export interface QuantGroups {
  /** Values per group along a row: 32, or 16 for formats with 16-value sub-blocks (Q2_K, Q3_K, Q6_K). */
  groupSize: 16 | 32;
  /** 4: every q is in 0..15; 8: every q fits int8 (-128..127). */
  bits: 4 | 8;
  /** One integer per value, row-major like the tensor. */
  q: Int8Array;
  /** One f32 scale per group (row-major: rows x columns/groupSize). */
  scale: Float32Array;
  /** One f32 offset per group, or undefined where every offset is 0 (symmetric formats). */
  min: Float32Array | undefined;
}

/** The grouping each block format gives: values per group, bits, and whether it has offsets. */
const groupings: Record<BlockDType, QuantPanelFormat> = {
  q8_0: { groupSize: 32, bits: 8, hasMin: false },
  q4_0: { groupSize: 32, bits: 4, hasMin: true },
  q4_1: { groupSize: 32, bits: 4, hasMin: true },
  q5_0: { groupSize: 32, bits: 8, hasMin: false },
  q5_1: { groupSize: 32, bits: 8, hasMin: true },
  q2_K: { groupSize: 16, bits: 8, hasMin: true },
  q3_K: { groupSize: 16, bits: 8, hasMin: false },
  q4_K: { groupSize: 32, bits: 4, hasMin: true },
  q5_K: { groupSize: 32, bits: 8, hasMin: true },
  q6_K: { groupSize: 16, bits: 8, hasMin: false },
  iq4_nl: { groupSize: 32, bits: 8, hasMin: false },
  iq4_xs: { groupSize: 32, bits: 8, hasMin: false },
  mxfp4: { groupSize: 32, bits: 8, hasMin: false },
};

/** Room for `values` values in the given grouping. */
function emptyGroups(values: number, { groupSize, bits, hasMin }: QuantPanelFormat): QuantGroups {
  const groups = values / groupSize;
  return { groupSize, bits, q: new Int8Array(values), scale: new Float32Array(groups), min: hasMin ? new Float32Array(groups) : undefined };
}

/** q[from, to) += delta: raw unsigned quants recentred as the format's signed ones. */
function shift(q: Int8Array, from: number, to: number, delta: number): void {
  for (let i = from; i < to; i++) q[i] += delta;
}

/** The IQ4 grid as int8 (every level fits): looking levels up here rather than in the number[] grid made IQ4 groups about 4x faster (Node 20). */
const gridLevels = Int8Array.from(iq4Grid);
/** MXFP4's levels as int8, for the same reason. */
const mxfp4Int8Levels = Int8Array.from(mxfp4Levels);

/** q[from, to) from level indices to the levels they index. */
function toLevels(q: Int8Array, levels: Int8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) q[i] = levels[q[i]];
}

function q8_0Groups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, q8_0);
  const groups = emptyGroups(blocks * 32, groupings.q8_0);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    groups.q.set(signed.subarray(b * 34 + 2, b * 34 + 34), b * 32);
    groups.scale[b] = half(bytes, b * 34);
  }
  return groups;
}

/**
 * Q4_0 (nibbles, min 8d: the dequantizer's d * (q - 8)), Q4_1 and Q5_1 (min -m: d * q + m), Q5_0
 * (q5 - 16, no min) and IQ4_NL (grid levels, no min); one group per 32-value block, scale d.
 */
function legacyGroups(bytes: Uint8Array, kind: keyof typeof legacyLayouts): QuantGroups {
  const layout = legacyLayouts[kind];
  const blocks = blockCount(bytes, layout.format);
  const groups = emptyGroups(blocks * 32, groupings[kind]);
  for (let b = 0; b < blocks; b++) {
    const at = b * layout.format.bytesPerBlock;
    const d = half(bytes, at);
    legacyQuants(bytes, at, layout, groups.q, b * 32);
    groups.scale[b] = d;
    if (kind === "q5_0") shift(groups.q, b * 32, b * 32 + 32, -16);
    if (kind === "iq4_nl") toLevels(groups.q, gridLevels, b * 32, b * 32 + 32);
    if (groups.min) groups.min[b] = layout.minAt === undefined ? 8 * d : -half(bytes, at + layout.minAt);
  }
  return groups;
}

/** Q4_K (bits 4) and Q5_K (q up to 31): per 32-value sub-block scale d * sc and min dmin * mn. */
function kGroups(bytes: Uint8Array, fifthBits: boolean): QuantGroups {
  const format = fifthBits ? q5_K : q4_K;
  const blocks = blockCount(bytes, format);
  const groups = emptyGroups(blocks * 256, fifthBits ? groupings.q5_K : groupings.q4_K);
  const mins = groups.min as Float32Array;
  for (let b = 0; b < blocks; b++) {
    const at = b * format.bytesPerBlock;
    const d = half(bytes, at);
    const dmin = half(bytes, at + 2);
    kQuants(bytes, at, fifthBits, groups.q, b * 256);
    for (let s = 0; s < 8; s++) {
      const [sc, mn] = q4KScaleMin(bytes, at + 4, s);
      groups.scale[b * 8 + s] = d * sc;
      mins[b * 8 + s] = dmin * mn;
    }
  }
  return groups;
}

/** Q2_K: q 0..3, per 16-value sub-block scale d * sc and min dmin * mn. */
function q2KGroups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, q2_K);
  const groups = emptyGroups(blocks * 256, groupings.q2_K);
  const mins = groups.min as Float32Array;
  for (let b = 0; b < blocks; b++) {
    const at = b * 84;
    const d = half(bytes, at + 80);
    const dmin = half(bytes, at + 82);
    twoBitQuants(bytes, at + 16, undefined, groups.q, b * 256);
    for (let s = 0; s < 16; s++) {
      const [sc, mn] = q2KScaleMin(bytes, at, s);
      groups.scale[b * 16 + s] = d * sc;
      mins[b * 16 + s] = dmin * mn;
    }
  }
  return groups;
}

/** Q3_K: the signed q3 (-4..3), per 16-value sub-block scale d * (sc - 32). */
function q3KGroups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, q3_K);
  const groups = emptyGroups(blocks * 256, groupings.q3_K);
  for (let b = 0; b < blocks; b++) {
    const at = b * 110;
    const d = half(bytes, at + 108);
    twoBitQuants(bytes, at + 32, at, groups.q, b * 256);
    shift(groups.q, b * 256, b * 256 + 256, -4);
    for (let s = 0; s < 16; s++) groups.scale[b * 16 + s] = d * q3KScale(bytes, at + 96, s);
  }
  return groups;
}

/** Q6_K: q6 - 32, per 16-value sub-block scale d * sc (sc its int8). */
function q6KGroups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, q6_K);
  const groups = emptyGroups(blocks * 256, groupings.q6_K);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * 210;
    const d = half(bytes, at + 208);
    q6KQuants(bytes, at, groups.q, b * 256);
    shift(groups.q, b * 256, b * 256 + 256, -32);
    for (let s = 0; s < 16; s++) groups.scale[b * 16 + s] = d * signed[at + 192 + s];
  }
  return groups;
}

/** IQ4_XS: grid levels, per 32-value sub-block scale d * (ls - 32). */
function iq4XsGroups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, iq4_xs);
  const groups = emptyGroups(blocks * 256, groupings.iq4_xs);
  for (let b = 0; b < blocks; b++) {
    const at = b * 136;
    const d = half(bytes, at);
    for (let s = 0; s < 8; s++) {
      nibbleQuants(bytes, at + 8 + 16 * s, 0, groups.q, b * 256 + 32 * s);
      groups.scale[b * 8 + s] = d * iq4XsScale(bytes, at, s);
    }
    toLevels(groups.q, gridLevels, b * 256, b * 256 + 256);
  }
  return groups;
}

/** MXFP4: its levels (-12..12), one group per 32-value block, scale 2^(e - 128) (exact in f32, so scale * q is the dequantizer's value). */
function mxfp4Groups(bytes: Uint8Array): QuantGroups {
  const blocks = blockCount(bytes, mxfp4);
  const groups = emptyGroups(blocks * 32, groupings.mxfp4);
  for (let b = 0; b < blocks; b++) {
    nibbleQuants(bytes, b * 17 + 1, 0, groups.q, b * 32);
    groups.scale[b] = mxfp4Scale(bytes[b * 17]);
  }
  toLevels(groups.q, mxfp4Int8Levels, 0, groups.q.length);
  return groups;
}

/**
 * The blocks of a GGUF tensor of `dtype` as quant groups (value = scale * q - min). Scales and mins
 * are stored into Float32Arrays, which rounds each product to f32 as the C code's float `d * sc`
 * does (the products of an f16 and a sub-scale of at most 8 bits are exact in f32 anyway).
 */
export function quantGroups(dtype: TensorDType, bytes: Uint8Array): QuantGroups {
  switch (dtype) {
    case "q8_0":
      return q8_0Groups(bytes);
    case "q4_0":
    case "q4_1":
    case "q5_0":
    case "q5_1":
    case "iq4_nl":
      return legacyGroups(bytes, dtype);
    case "q4_K":
      return kGroups(bytes, false);
    case "q5_K":
      return kGroups(bytes, true);
    case "q2_K":
      return q2KGroups(bytes);
    case "q3_K":
      return q3KGroups(bytes);
    case "q6_K":
      return q6KGroups(bytes);
    case "iq4_xs":
      return iq4XsGroups(bytes);
    case "mxfp4":
      return mxfp4Groups(bytes);
    default:
      throw new RangeError(`quantGroups: ${dtype} is not a GGML block format`);
  }
}

/** The form several groupings share: the smallest group size, the widest bits, offsets if any has them. */
function commonGrouping(groupings: QuantPanelFormat[]): QuantPanelFormat {
  return {
    groupSize: groupings.some((g) => g.groupSize === 16) ? 16 : 32,
    bits: groupings.some((g) => g.bits === 8) ? 8 : 4,
    hasMin: groupings.some((g) => g.hasMin),
  };
}

/** Each entry of `from` (one per group) written `repeat` times from out[at]: per-group values for groups `repeat` times finer. */
function repeatGroups(from: Float32Array, repeat: number, out: Float32Array, at: number): void {
  for (let g = 0; g < from.length; g++) out.fill(from[g], at + g * repeat, at + (g + 1) * repeat);
}

/**
 * Several groupings (the pieces of a fused weight, stacked by rows) in one common form: the
 * smallest group size, the widest bits, a min if any has one (scales repeated for a finer group,
 * zero offsets where a piece had none). A 4-bit piece's q (0..15) is already valid 8-bit q.
 */
export function commonQuantGroups(pieces: QuantGroups[], columns: number): QuantGroups {
  if (pieces.length === 0) throw new RangeError("commonQuantGroups: no pieces");
  if (pieces.length === 1) return pieces[0];
  for (const piece of pieces) {
    if (piece.q.length % columns !== 0) throw new RangeError(`commonQuantGroups: ${piece.q.length} values is not whole rows of ${columns}`);
  }
  const values = pieces.reduce((total, piece) => total + piece.q.length, 0);
  const common = emptyGroups(values, commonGrouping(pieces.map((piece) => ({ groupSize: piece.groupSize, bits: piece.bits, hasMin: piece.min !== undefined }))));
  const { groupSize } = common;
  let at = 0;
  for (const piece of pieces) {
    const repeat = piece.groupSize / groupSize;
    common.q.set(piece.q, at);
    repeatGroups(piece.scale, repeat, common.scale, at / groupSize);
    // Mins stay zero (the new array's fill) for pieces without one.
    if (common.min && piece.min) repeatGroups(piece.min, repeat, common.min, at / groupSize);
    at += piece.q.length;
  }
  return common;
}

/**
 * How a grouping over rows of `columns` is packed into panels: as nibbles (bits 4) for 4-bit
 * groups of 32 (two consecutive k a byte), otherwise as int8 (bits 8), which holds 0..15 too.
 */
export function panelFormat(grouping: QuantPanelFormat, columns: number): QuantPanelFormat {
  const nibbles = grouping.bits === 4 && grouping.groupSize === 32 && columns % 2 === 0;
  return { ...grouping, bits: nibbles ? 4 : 8 };
}

/**
 * The panel format of a linear whose pieces (stacked by rows, or one) are GGUF blocks of `dtypes`
 * over rows of `columns`, known before any bytes are read: what commonQuantGroups and
 * packQuantPanels will give.
 */
export function quantPanelFormat(dtypes: readonly BlockDType[], columns: number): QuantPanelFormat {
  return panelFormat(commonGrouping(dtypes.map((dtype) => groupings[dtype])), columns);
}
