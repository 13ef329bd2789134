// Kernels with a shape error, dtype errors (i32 stored as float, i32 division, a shift of an f32),
// a helper that assigns to its parameter, a name hiding an outer one and unsupported syntax must fail to
// compile with TSVLLM_ERR_COMPILE and a message that starts with the fixture's path and the exact
// line:column of the offending code. The expected position is found in the fixture's text, not
// taken from the compiler.
import fs from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileKernel } from "../../codegen/compile.ts";
import { TsvllmError } from "../../runtime/errors.ts";

/** "file:line:column" of the first occurrence of `snippet` in the file (1-based, as editors count). */
function positionOf(file: string, snippet: string): string {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const line = lines.findIndex((l) => l.includes(snippet));
  if (line < 0) throw new Error(`${snippet} not found in ${file}`);
  return `${file}:${line + 1}:${lines[line].indexOf(snippet) + 1}`;
}

function compileError(file: string, exportName: string): TsvllmError {
  try {
    compileKernel(file, exportName, { dtypes: {}, consts: { D: 8 } });
  } catch (e) {
    assert.instance(e, TsvllmError);
    return e as TsvllmError;
  }
  throw new Error(`${file} compiled without an error`);
}

const cases = [
  { file: "test/fixtures/shape-error.ts", exportName: "rowCopyWithShapeError", at: "x.at(t)", says: /shape mismatch: "x" has 2 dims but is indexed with 1/ },
  { file: "test/fixtures/dtype-error.ts", exportName: "storeIdAsFloat", at: "out.put(t, ids.at(t))", says: /dtype mismatch: storing a i32 value into float tensor "out"/ },
  { file: "test/fixtures/int-division-error.ts", exportName: "halveIds", at: "ids.at(t) / 2", says: /`\/` on two i32 values; use idiv/ },
  { file: "test/fixtures/bitwise-float-error.ts", exportName: "shiftFloat", at: "x.at(t) >> 1", says: /dtype mismatch: bitwise ">>" needs i32 operands, got f32/ },
  { file: "test/fixtures/helper-assigns-parameter.ts", exportName: "doubleRows", at: "t = t + 0;", says: /doubleRow\(\) assigns to its parameter "t"/ },
  { file: "test/fixtures/hidden-name.ts", exportName: "prefixSums", at: "reduceSum(j + 1, (j) =>", says: /"j" hides a "j" declared around it; give it another name/ },
  { file: "test/fixtures/unsupported-syntax.ts", exportName: "halveUntilSmall", at: "while (v > 1.0)", says: /unsupported statement in a kernel: WhileStatement/ },
];

for (const c of cases) {
  test(`${c.file} fails with TSVLLM_ERR_COMPILE at ${c.at}`, () => {
    const err = compileError(c.file, c.exportName);
    assert.is(err.code, "TSVLLM_ERR_COMPILE");
    const where = positionOf(c.file, c.at);
    assert.ok(err.message.startsWith(`${where}: `), `expected the message to start with "${where}: ", got "${err.message}"`);
    assert.match(err.message, c.says);
  });
}

test.run();
