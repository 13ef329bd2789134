// JS semantics of the byte-level and tile primitives (the reference interpreter the compiled and
// emulated kernels are checked against), and of the fp8 e4m3 codec the host uses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { f16BitsToF32, f32ToFp8e4m3Bits, f32ToFp8e5m2Bits, float8e4m3, float8e5m2, fp8e4m3BitsToF32, fp8e5m2BitsToF32 } from "../../dsl/dtype.ts";
import { Scratch } from "../../dsl/global.ts";
import { dotTile, f16FromBits, floatKey, i8, reduceMin } from "../../dsl/primitives.ts";

test("i8 reads the low byte as two's complement", () => {
  assert.equal([0, 1, 127, 128, 200, 255, 256 + 5].map(i8), [0, 1, 127, -128, -56, -1, 5]);
});

test("f16FromBits decodes IEEE half bits, ignoring bits above 16", () => {
  assert.is(f16FromBits(0x3c00), 1);
  assert.is(f16FromBits(0xc000), -2);
  assert.is(f16FromBits(0x0001), 2 ** -24);
  assert.is(f16FromBits(0x7bff), 65504);
  assert.is(f16FromBits(0x13c00), 1);
});

test("floatKey orders as the floats do, each adjacent pair of f32 values one key apart", () => {
  const values = [-Infinity, -3.4e38, -1, -1e-40, -0, 0, 1e-45, 1e-40, 1.5, 3.4e38, Infinity].map(Math.fround);
  const keys = values.map(floatKey);
  for (let i = 1; i < keys.length; i++) assert.ok(keys[i] > keys[i - 1], `${values[i - 1]} < ${values[i]}`);
  assert.is(floatKey(0), 0);
  assert.is(floatKey(-0), -1);
  assert.is(floatKey(1e-45), 1);
  assert.is(floatKey(-1e-45), -2);
  const next = new Float32Array(new Int32Array([0x3fc00001]).buffer)[0];
  assert.is(floatKey(next) - floatKey(1.5), 1);
});

test("reduceMin is +Infinity over nothing and the minimum otherwise", () => {
  assert.is(reduceMin(0, () => 0), Infinity);
  assert.is(reduceMin(5, (i) => (i - 3) ** 2), 0);
});

test("dotTile adds rows x cols dot products, row-major from its offset, to what the scratch holds", () => {
  const a = [[1, 2, 3], [4, 5, 6]];
  const b = [[1, 0, 0], [0, 1, 0], [1, 1, 1]];
  const tile = new Scratch(8);
  tile.data.fill(1);
  dotTile(tile, 2, 2, 3, 3, (i, k) => a[i][k], (j, k) => b[j][k]);
  assert.equal(Array.from(tile.data), [1, 1, 2, 3, 7, 5, 6, 16]);
});

test("fp8 e4m3: every finite code round-trips, rounding is to nearest even, saturating at 448", () => {
  for (let bits = 0; bits < 256; bits++) {
    const v = fp8e4m3BitsToF32(bits);
    if ((bits & 0x7f) === 0x7f) assert.ok(Number.isNaN(v));
    else if (v !== 0) assert.is(f32ToFp8e4m3Bits(v), bits);
  }
  assert.is(fp8e4m3BitsToF32(0x7e), 448);
  assert.is(fp8e4m3BitsToF32(0x01), 2 ** -9);
  assert.is(float8e4m3.round(1.0625), 1);
  assert.is(float8e4m3.round(1.1875), 1.25);
  assert.is(float8e4m3.round(1e6), 448);
  assert.is(f32ToFp8e4m3Bits(-1e6), 0xfe);
});

test("fp8 e5m2: f16's top byte; every finite code round-trips, ties go to the even code, saturating at 57344", () => {
  for (let bits = 0; bits < 256; bits++) {
    const v = fp8e5m2BitsToF32(bits);
    assert.is(Object.is(v, f16BitsToF32(bits << 8)), true, `code ${bits}`);
    if ((bits & 0x7c) === 0x7c) assert.ok(!Number.isFinite(v));
    else if (v !== 0) assert.is(f32ToFp8e5m2Bits(v), bits);
    // Between this code and the next finite one of the same sign: the midpoint goes to the even code, a hair off it to the nearer.
    if ((bits & 0x7f) < 0x7b) {
      const next = fp8e5m2BitsToF32(bits + 1);
      const mid = (v + next) / 2;
      assert.is(f32ToFp8e5m2Bits(mid), bits % 2 === 0 ? bits : bits + 1, `tie after code ${bits}`);
      assert.is(f32ToFp8e5m2Bits(Math.fround(mid + Math.abs(mid) * 2 ** -20)), bits & 0x80 ? bits : bits + 1);
      assert.is(f32ToFp8e5m2Bits(Math.fround(mid - Math.abs(mid) * 2 ** -20)), bits & 0x80 ? bits + 1 : bits);
    }
  }
  assert.is(fp8e5m2BitsToF32(0x7b), 57344);
  assert.is(fp8e5m2BitsToF32(0x01), 2 ** -16);
  assert.is(float8e5m2.round(1.125), 1);
  assert.is(float8e5m2.round(1.375), 1.5);
  assert.is(float8e5m2.round(1e9), 57344);
  assert.is(f32ToFp8e5m2Bits(-Infinity), 0xfb);
  assert.is(f32ToFp8e5m2Bits(NaN), 0x7e);
});

test.run();
