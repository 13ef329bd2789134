// IEEE half-precision decoding, shared by the f16 conversion and the quantized-block scales.

let f16Table: Float32Array | undefined;

// All 65,536 half-precision values, built once: a lookup is faster than decoding the bits each time.
export function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  f16Table = table;
  return table;
}

/** One IEEE half (given as its 16 bits) as a number. */
export function f16BitsToNumber(bits: number): number {
  return halfTable()[bits & 0xffff];
}

