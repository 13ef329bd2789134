// alignedStep (codegen/emit/cpp-aligned-step.ts): the index arithmetic of an unrolled step k + u of
// the broadcast form's sets loop, where k is a multiple of the number of steps. Each rewrite is
// checked against plain evaluation over every aligned k and step, and the 4-bit panels' indices
// come out as the shared byte and constant shifts the C++ relies on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { alignedStep } from "../../codegen/emit/cpp-aligned-step.ts";
import type { IExpr } from "../../codegen/ir/types.ts";

const c = (value: number): IExpr => ({ op: "const", type: "i32", value });
const k: IExpr = { op: "var", type: "i32", name: "k" };
const bin = (kind: "+" | "%" | "&" | ">>" | "*", left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind, left, right });
const idiv = (a: IExpr, b: IExpr): IExpr => ({ op: "math", type: "i32", fn: "idiv", args: [a, b] });
const at = (u: number) => (u === 0 ? k : bin("+", k, c(u)));

function evaluate(e: IExpr, kValue: number): number {
  switch (e.op) {
    case "const": return e.value;
    case "var": return kValue;
    case "math": return Math.floor(evaluate(e.args[0], kValue) / evaluate(e.args[1], kValue));
    case "binary": {
      const [a, b] = [evaluate(e.left, kValue), evaluate(e.right, kValue)];
      return { "+": a + b, "%": a % b, "&": a & b, ">>": a >> b, "*": a * b }[e.kind as "+"];
    }
    default: throw new Error(`unexpected ${e.op}`);
  }
}

const shapes: [string, (x: IExpr) => IExpr][] = [
  ["idiv(x, 2)", (x) => idiv(x, c(2))], ["idiv(x, 32)", (x) => idiv(x, c(32))], ["idiv(x, 3)", (x) => idiv(x, c(3))], ["x % 2", (x) => bin("%", x, c(2))],
  ["x % 4", (x) => bin("%", x, c(4))], ["x & 1", (x) => bin("&", x, c(1))], ["x >> 1", (x) => bin(">>", x, c(1))], ["x >> 3", (x) => bin(">>", x, c(3))],
  ["4 * (x % 2)", (x) => bin("*", c(4), bin("%", x, c(2)))], ["x % 3", (x) => bin("%", x, c(3))],
];

test("every rewrite keeps the value at every aligned k, for 1 to 4 steps", () => {
  for (const multiple of [1, 2, 3, 4]) {
    for (const [name, shape] of shapes) {
      for (let u = 0; u < multiple; u++) {
        const simplified = alignedStep(shape(at(u)), "k", multiple);
        for (let kValue = 0; kValue < 200; kValue += multiple) assert.is(evaluate(simplified, kValue), evaluate(shape(at(u)), kValue), `${name} at k + ${u}, k = ${kValue}, ${multiple} steps`);
      }
    }
  }
});

test("two steps of a 4-bit panel: both read byte idiv(k, 2) and the group idiv(k, 32); the shifts are the constants 0 and 4", () => {
  assert.equal(alignedStep(idiv(at(1), c(2)), "k", 2), idiv(k, c(2)));
  assert.equal(alignedStep(idiv(at(1), c(32)), "k", 2), idiv(k, c(32)));
  assert.equal(alignedStep(bin("*", c(4), bin("%", at(0), c(2))), "k", 2), c(0));
  assert.equal(alignedStep(bin("*", c(4), bin("%", at(1), c(2))), "k", 2), c(4));
  // A shift by the folded zero goes.
  assert.equal(alignedStep(bin(">>", k, bin("*", c(4), bin("%", at(0), c(2)))), "k", 2), k);
  // Not aligned to the divisor: left alone.
  assert.equal(alignedStep(bin("%", at(1), c(3)), "k", 2), bin("%", at(1), c(3)));
});

test.run();
