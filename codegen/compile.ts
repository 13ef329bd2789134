// The compiler's front door for kernels: source file -> KAST -> checked IR -> specialised IR,
// with each stage dumpable. Parsed kernels are cached per file for the life of the process.
import { dump } from "./build/dump.ts";
import { parseKernelFile } from "./frontend/parse.ts";
import type { KernelAst } from "./frontend/kast.ts";
import { checkKernel } from "./ir/check.ts";
import { printKernel } from "./ir/print.ts";
import { specialize, type Specialization } from "./ir/specialize.ts";
import { verify } from "./ir/verify.ts";
import type { KernelIR } from "./ir/types.ts";
import { TsvllmError } from "../runtime/errors.ts";

const checked = new Map<string, Map<string, KernelIR>>();

function kernelsOf(file: string): Map<string, KernelIR> {
  let byName = checked.get(file);
  if (!byName) {
    const asts: KernelAst[] = parseKernelFile(file);
    byName = new Map();
    for (const ast of asts) {
      dump("ast", ast.name, JSON.stringify(ast, (k, v) => (k === "span" ? undefined : v), 1));
      const ir = checkKernel(ast);
      verify(ir);
      byName.set(ast.exportName, ir);
    }
    checked.set(file, byName);
  }
  return byName;
}

/** The generic (unspecialised) IR of an exported kernel. */
export function kernelIR(file: string, exportName: string): KernelIR {
  const ir = kernelsOf(file).get(exportName);
  if (!ir) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${file} has no exported kernel "${exportName}"`);
  return ir;
}

export function compileKernel(file: string, exportName: string, spec: Specialization): KernelIR {
  const ir = specialize(kernelIR(file, exportName), spec);
  verify(ir);
  dump("ir", ir.symbol, printKernel(ir));
  return ir;
}
