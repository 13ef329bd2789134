// Quant groups (runtime/loader/quant-groups.ts: value = scale * q - min per group of G values along
// a row) packed into the panels the CPU's quantized matmul kernels read, 16 rows (output features
// n) side by side as matmul-blocked.ts's weight panels are, K the inputs:
//   8-bit: values Int8Array [P, K, 16], values[(p K + k) 16 + j] = q[16p + j, k];
//   4-bit (bits 4, G 32): values Uint8Array [P, K/2, 16], byte (p, h, j) holding q[16p + j, 2h] in
//     its low nibble and q[16p + j, 2h + 1] in its high one: consecutive k share a byte, so a
//     kernel streams the bytes once, in k order (a layout of the row's halves, low nibbles the
//     first half of k, made the decode kernel read each byte in two passes far apart and ran it
//     at about half the read rate of the 8-bit panels);
//   scales (and mins, where the grouping has them) Float32Array [P, K/G, 16], one per row and group.
// P = cdiv(rows, 16); everything past the last row is zero (so padded rows read as 0).
import { panelFormat, type QuantGroups } from "../../runtime/loader/quant-groups.ts";
import { panelWidth } from "./matmul-blocked.ts";

export interface QuantPanels {
  bits: 4 | 8;
  groupSize: 16 | 32;
  values: Int8Array | Uint8Array;
  scales: Float32Array;
  mins: Float32Array | undefined;
}

/** q [rows, columns] as [P, columns, 16] int8 panels. */
function packBytes(q: Int8Array, rows: number, columns: number): Int8Array {
  const out = new Int8Array(Math.ceil(rows / panelWidth) * columns * panelWidth);
  for (let n = 0; n < rows; n++) {
    const base = (n - (n % panelWidth)) * columns + (n % panelWidth);
    const row = n * columns;
    for (let k = 0; k < columns; k++) out[base + k * panelWidth] = q[row + k];
  }
  return out;
}

/** q [rows, columns] (each 0..15) as [P, columns/2, 16] bytes: k = 2h in the low nibble of byte h, 2h + 1 in the high one. */
function packNibbles(q: Int8Array, rows: number, columns: number): Uint8Array {
  const half = columns / 2;
  const out = new Uint8Array(Math.ceil(rows / panelWidth) * half * panelWidth);
  for (let n = 0; n < rows; n++) {
    const base = (n - (n % panelWidth)) * half + (n % panelWidth);
    const row = n * columns;
    for (let h = 0; h < half; h++) out[base + h * panelWidth] = q[row + 2 * h] | (q[row + 2 * h + 1] << 4);
  }
  return out;
}

/** Per-group values [rows, groups] as [P, groups, 16] f32 panels. */
function packGroupValues(perGroup: Float32Array, rows: number, groups: number): Float32Array {
  const out = new Float32Array(Math.ceil(rows / panelWidth) * groups * panelWidth);
  for (let n = 0; n < rows; n++) {
    const base = (n - (n % panelWidth)) * groups + (n % panelWidth);
    for (let g = 0; g < groups; g++) out[base + g * panelWidth] = perGroup[n * groups + g];
  }
  return out;
}

/** A grouping of a [rows, columns] weight as the kernels' panels. */
export function packQuantPanels(groups: QuantGroups, rows: number, columns: number): QuantPanels {
  const { groupSize, q, scale, min } = groups;
  if (q.length !== rows * columns) throw new RangeError(`packQuantPanels: ${q.length} values is not ${rows} x ${columns}`);
  if (columns % groupSize !== 0 || scale.length !== rows * (columns / groupSize)) {
    throw new RangeError(`packQuantPanels: ${scale.length} scales do not group ${rows} x ${columns} by ${groupSize}`);
  }
  const nibbles = panelFormat({ groupSize, bits: groups.bits, hasMin: min !== undefined }, columns).bits === 4;
  const groupCount = columns / groupSize;
  return {
    bits: nibbles ? 4 : 8,
    groupSize,
    values: nibbles ? packNibbles(q, rows, columns) : packBytes(q, rows, columns),
    scales: packGroupValues(scale, rows, groupCount),
    mins: min && packGroupValues(min, rows, groupCount),
  };
}

/** Weight [n, k] read back from panels of a [rows, columns] weight as f32 (scale * q - min): the kernels' reference reading. */
export function quantPanelValue(panels: QuantPanels, rows: number, columns: number, n: number, k: number): number {
  const padded = Math.ceil(rows / panelWidth) * panelWidth;
  if (!(n >= 0 && n < padded && k >= 0 && k < columns)) throw new RangeError(`quantPanelValue: (${n}, ${k}) is outside ${padded} x ${columns}`);
  const p = Math.floor(n / panelWidth);
  const j = n % panelWidth;
  let q: number;
  if (panels.bits === 4) {
    const byte = panels.values[(p * (columns / 2) + (k >> 1)) * panelWidth + j];
    q = k % 2 === 0 ? byte & 0x0f : byte >> 4;
  } else {
    q = panels.values[(p * columns + k) * panelWidth + j];
  }
  const group = (p * (columns / panels.groupSize) + Math.floor(k / panels.groupSize)) * panelWidth + j;
  return Math.fround(panels.scales[group] * q - (panels.mins ? panels.mins[group] : 0));
}
