// applyLogitEdits (dsl/kernels/sampling.ts): the compiled kernel and its GPU lowering in the emulator
// against the DSL reference; and the reference against the edits written out here from the native
// sampler's order (runtime/native/sampler.cc: bans, logit_bias, then the repetition penalty on
// tokens of the prompt or output, then frequency * count + presence subtracted), step by step in
// f32. The last two steps may round once or twice (a fused multiply-subtract), hence a bound of
// about an ulp of the intermediate. Entries without an edit, and rows whose edits are empty, keep their logits bit for bit.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { applyLogitEdits } from "../../dsl/kernels/sampling.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference } from "../support/kernel-harness.ts";

const { irs, native } = buildKernels("test_logit_edits", [{ file: "dsl/kernels/sampling.ts", exportName: "applyLogitEdits", spec: { dtypes: {}, consts: {} } }]);
const ir = irs[0];

interface Edit {
  token: number;
  bias: number;
  repetition: number;
  subtract: number;
}

const V = 300;
// Sample rows 0 and 3 share logits row 2 (forked sequences): only row 0 carries the edits.
const rowIndices = [2, 0, 1, 2];
const edits: Edit[][] = [
  [
    { token: 5, bias: 0, repetition: 1.3, subtract: 0 },
    { token: 9, bias: 0, repetition: 1.3, subtract: 0.5 * 3 + 0.25 },
    { token: 40, bias: -Infinity, repetition: 1, subtract: 0 },
    { token: 41, bias: 2.5, repetition: 1.3, subtract: 0.25 },
    { token: 299, bias: -1, repetition: 1, subtract: 0 },
  ],
  Array.from({ length: 200 }, (_, i) => ({ token: i + 50, bias: i % 7 === 0 ? -Infinity : 0, repetition: 0.8 + (i % 5) * 0.1, subtract: (i % 3) * 0.7 })),
  [],
  [],
];

function args(): (Global | number)[] {
  const flat = edits.flat();
  const column = (f: (e: Edit) => number) => new Global("f32", [flat.length], Float32Array.from(flat, f));
  const offsets = Int32Array.from([0, ...edits.map((_, r) => edits.slice(0, r + 1).reduce((n, list) => n + list.length, 0))]);
  const logits = randomGlobal("f32", [3, V], 6);
  // Both signs matter to the repetition penalty: make sure each occurs among the edited tokens.
  logits.put(2, 5, 3.5);
  logits.put(2, 9, -2.25);
  return [logits, new Global("i32", [4], Int32Array.from(rowIndices)), new Global("i32", [5], offsets), new Global("i32", [flat.length], Int32Array.from(flat, (e) => e.token)), column((e) => e.bias), column((e) => e.repetition), column((e) => e.subtract)];
}

// One rounding of the intermediate (|w| up to about 10: an ulp near 1e-6) survives a subtraction
// that cancels most of it, so the bound is absolute as well as relative.
const rounding = { abs: 2e-6, rel: 1e-6 };

test("compiled and emulated applyLogitEdits equal the reference", () => {
  checkAgainstReference(applyLogitEdits, ir, native(ir), args(), rounding, { emulate: true });
});

test("the reference applies bans, bias, the repetition penalty and the subtraction in the native sampler's order", () => {
  const input = args();
  const before = Float32Array.from((input[0] as Global).data);
  runReference(applyLogitEdits, input);
  const after = (input[0] as Global).data;
  const expected = Float32Array.from(before);
  edits.forEach((list, r) => {
    for (const e of list) {
      const at = rowIndices[r] * V + e.token;
      const w = Math.fround(expected[at] + Math.fround(e.bias));
      const penalized = w > 0 ? Math.fround(w / Math.fround(e.repetition)) : Math.fround(w * Math.fround(e.repetition));
      expected[at] = Math.fround(penalized - Math.fround(e.subtract));
    }
  });
  assertClose(input[0] as Global, new Global("f32", [3, V], expected), rounding, "edited logits");
  assert.is(after[2 * V + 40], -Infinity, "a ban stays -Infinity");
  assert.ok(after[2 * V + 5] < before[2 * V + 5] && after[2 * V + 9] < before[2 * V + 9], "the repetition penalty lowers positive and negative logits alike");
  assert.equal(Array.from(after.subarray(V, 2 * V)), Array.from(before.subarray(V, 2 * V)), "a row without edits is untouched");
});

test.run();
