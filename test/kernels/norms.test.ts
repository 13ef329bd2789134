import { test } from "uvu";
import { addRmsNorm } from "../../dsl/kernels/add-rms-norm.ts";
import { layerNorm } from "../../dsl/kernels/layer-norm.ts";
import { rmsNorm } from "../../dsl/kernels/rms-norm.ts";
import { buildKernels, checkAgainstReference, randomGlobal, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

const floats = ["f32", "f16", "bf16"] as const;
const widths = [64, 80, 128, 200];
const specs: KernelSpec[] = floats.flatMap((A) =>
  widths.flatMap((D) => [
    { file: "dsl/kernels/rms-norm.ts", exportName: "rmsNorm", spec: { dtypes: { A, W: A }, consts: { D } } },
    { file: "dsl/kernels/add-rms-norm.ts", exportName: "addRmsNorm", spec: { dtypes: { A, W: "f32" }, consts: { D } } },
    { file: "dsl/kernels/layer-norm.ts", exportName: "layerNorm", spec: { dtypes: { A, W: A }, consts: { D } } },
  ]),
);
const { irs, native } = buildKernels("test_norms", specs);

for (const ir of irs) {
  const A = ir.params[0].kind === "global" ? (ir.params[0].dtype as "f32") : "f32";
  const D = ir.consts.D;
  for (const T of [1, 7]) {
    for (const wOffset of ir.name === "layerNorm" ? [0] : [0, 1]) {
      test(`${ir.symbol} T=${T} wOffset=${wOffset} matches its reference`, () => {
        const emulate = T === 7 && wOffset === 1;
        if (ir.name === "rmsNorm") {
          const args = [randomGlobal(A, [T, D], 3), randomGlobal(A, [D]), randomGlobal(A, [T, D]), 1e-5, wOffset, D];
          checkAgainstReference(rmsNorm, ir, native(ir), args, tolerance[A], { emulate });
        } else if (ir.name === "layerNorm") {
          // Rows offset from zero mean by more than their spread, as residual streams are, so a mean left in shows.
          const x = randomGlobal(A, [T, D], 3);
          for (let k = 0; k < x.data.length; k++) x.data[k] = x.dtype.round(x.data[k] + 5 * (1 + (k % 3)));
          checkAgainstReference(layerNorm, ir, native(ir), [x, randomGlobal(A, [D]), randomGlobal(A, [T, D]), 1e-5, D], tolerance[A], { emulate });
        } else {
          const args = [randomGlobal(A, [T, D], 2), randomGlobal(A, [T, D], 2), randomGlobal("f32", [D]), randomGlobal(A, [T, D]), 1e-6, wOffset, D];
          checkAgainstReference(addRmsNorm, ir, native(ir), args, tolerance[A], { emulate });
        }
      });
    }
  }
}

test.run();
