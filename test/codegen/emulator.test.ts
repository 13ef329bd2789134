// The emulator executes the CUDA lowering of a kernel whose second forEach reads scratch that other
// threads wrote in the first: with the lowering's barriers it matches the JS reference; with the
// barriers stripped, the race detector must name the missing __syncthreads().
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileKernel } from "../../codegen/compile.ts";
import { EmulationError, emulate } from "../../codegen/lower/emulator.ts";
import type { TStmt, ThreadKernel } from "../../codegen/lower/thread-ir.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import { Global } from "../../dsl/global.ts";
import { reverseThroughScratch } from "../fixtures/reverse-scratch.ts";
import { assertClose, randomGlobal, runReference } from "../support/kernel-harness.ts";

const D = 64;
const ir = compileKernel("test/fixtures/reverse-scratch.ts", "reverseThroughScratch", { dtypes: {}, consts: { D } });

function withoutBarriers(stmts: TStmt[]): TStmt[] {
  return stmts.flatMap((s): TStmt[] => {
    if (s.op === "barrier") return [];
    if (s.op === "for" || s.op === "threadLoop" || s.op === "leader") return [{ ...s, body: withoutBarriers(s.body) }];
    if (s.op === "if") return [{ ...s, then: withoutBarriers(s.then), else: withoutBarriers(s.else) }];
    return [s];
  });
}

function countBarriers(stmts: TStmt[]): number {
  return stmts.reduce((n, s) => n + (s.op === "barrier" ? 1 : s.op === "for" || s.op === "threadLoop" || s.op === "leader" ? countBarriers(s.body) : s.op === "if" ? countBarriers(s.then) + countBarriers(s.else) : 0), 0);
}

test("the lowering puts a barrier after each forEach", () => {
  const lowered = lowerToThreads(ir);
  assert.equal(lowered.body.map((s) => s.op), ["decl", "threadLoop", "barrier", "threadLoop", "barrier"]);
});

for (const threads of [32, 64]) {
  test(`emulated with ${threads} threads, the lowering matches the reference`, () => {
    const x = randomGlobal("f32", [3, D]);
    const expected = new Global("f32", [3, D]);
    runReference(reverseThroughScratch, [x, expected, D]);
    for (let t = 0; t < 3; t++) for (let i = 0; i < D; i++) assert.is(expected.at(t, i), Math.fround(2 * x.at(t, D - 1 - i)));
    const actual = new Global("f32", [3, D]);
    emulate(lowerToThreads(ir), [x, actual, D], { threads });
    assertClose(actual, expected, { abs: 0, rel: 0 }, "emulated reverseThroughScratch");
  });
}

test("with the barriers stripped, the race detector reports the missing barrier", () => {
  const lowered = lowerToThreads(ir);
  const racy: ThreadKernel = { ...lowered, body: withoutBarriers(lowered.body) };
  assert.is(countBarriers(racy.body), 0);
  const x = randomGlobal("f32", [1, D]);
  try {
    emulate(racy, [x, new Global("f32", [1, D]), D], { threads: 32 });
    assert.unreachable("a racy lowering emulated cleanly");
  } catch (e) {
    assert.instance(e, EmulationError);
    assert.match((e as Error).message, /^reverseThroughScratch__D64: race on buf\[\d+\]: thread \d+ reads what thread \d+ wrote with no barrier between$/);
  }
});

test.run();
