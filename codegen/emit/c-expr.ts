// Expression printing shared by the C++ and CUDA emitters. The two backends differ only by the
// Dialect table (math spellings, how a program finds its id, how a reduction is spelled).
import { dtypeOf } from "../../dsl/dtype.ts";
import { fixedDimSize } from "../../dsl/global.ts";
import type { GlobalParam, IExpr, KernelIR, MathFn } from "../ir/types.ts";

export interface Dialect {
  math: Record<MathFn, (args: string[], type: string) => string>;
  pid: (axis: number) => string;
  /** How an expression-level reduction prints (CPU: a GNU statement expression; CUDA: hoisted before). */
  reduce: (e: Extract<IExpr, { op: "reduce" }>, print: (e: IExpr) => string) => string;
}

export const cType = { f32: "float", i32: "int", bool: "bool" } as const;

export function floatLiteral(v: number): string {
  if (v === Infinity) return "INFINITY";
  if (v === -Infinity) return "(-INFINITY)";
  if (Number.isNaN(v)) return "NAN";
  const s = Math.fround(v).toPrecision(9);
  return `${/[.e]/.test(s) ? s : s + ".0"}f`;
}

export const sharedMath: Record<MathFn, (a: string[], type: string) => string> = {
  exp: (a) => `expf(${a[0]})`,
  log: (a) => `logf(${a[0]})`,
  sqrt: (a) => `sqrtf(${a[0]})`,
  rsqrt: (a) => `(1.0f / sqrtf(${a[0]}))`,
  tanh: (a) => `tanhf(${a[0]})`,
  sin: (a) => `sinf(${a[0]})`,
  cos: (a) => `cosf(${a[0]})`,
  pow: (a) => `powf(${a[0]}, ${a[1]})`,
  abs: (a, t) => (t === "float" ? `fabsf(${a[0]})` : `abs(${a[0]})`),
  floor: (a) => `floorf(${a[0]})`,
  max: (a, t) => (t === "float" ? `fmaxf(${a[0]}, ${a[1]})` : `tsv_max_i(${a[0]}, ${a[1]})`),
  min: (a, t) => (t === "float" ? `fminf(${a[0]}, ${a[1]})` : `tsv_min_i(${a[0]}, ${a[1]})`),
  cdiv: (a) => `(((${a[0]}) + (${a[1]}) - 1) / (${a[1]}))`,
  idiv: (a) => `((${a[0]}) / (${a[1]}))`,
  i8: (a) => `((int)(int8_t)(${a[0]}))`,
  f16FromBits: (a) => `tsv_f16_to_f32((uint16_t)(${a[0]}))`,
  floatKey: (a) => `tsv_float_key(${a[0]})`,
};

/** Storage dtypes whose elements are converted on load/store (the prelude's bit-exact routines). */
const loadConversion: Record<string, string> = { f16: "tsv_f16_to_f32", bf16: "tsv_bf16_to_f32", fp8e4m3: "tsv_fp8e4m3_to_f32", fp8e5m2: "tsv_fp8e5m2_to_f32" };
const storeConversion: Record<string, string> = { f16: "tsv_f32_to_f16", bf16: "tsv_f32_to_bf16", fp8e4m3: "tsv_f32_to_fp8e4m3", fp8e5m2: "tsv_f32_to_fp8e5m2" };

export const dimName = (global: string, axis: number) => `${global}_d${axis}`;

export class ExprPrinter {
  private readonly globals: Map<string, GlobalParam>;
  constructor(private readonly ir: KernelIR, private readonly dialect: Dialect) {
    this.globals = new Map(ir.params.flatMap((p) => (p.kind === "global" ? [[p.name, p] as const] : [])));
  }

  /** Row-major element offset, promoted to 64 bits before the first multiply. */
  offset(global: string, indices: IExpr[]): string {
    const g = this.globals.get(global)!;
    let acc = `(int64_t)(${this.print(indices[0])})`;
    for (let k = 1; k < indices.length; k++) acc = `(${acc} * ${this.dimExpr(g, k)} + ${this.print(indices[k])})`;
    return acc;
  }

  private dimExpr(g: GlobalParam, axis: number): string {
    return String(this.fixedDim(g.name, axis) ?? dimName(g.name, axis));
  }

  /** The axis's size when the specialisation fixes it (a Const dimension), else undefined. */
  fixedDim(global: string, axis: number): number | undefined {
    return fixedDimSize(this.globalParam(global).dims[axis], this.ir.consts);
  }

  globalParam(global: string): GlobalParam {
    return this.globals.get(global)!;
  }

  dtypeOf(global: string): string {
    return this.globals.get(global)!.dtype;
  }

  loadExpr(global: string, offset: string): string {
    return this.loadedValue(global, `${global}[${offset}]`);
  }

  /** A stored element of `global` (C text) as the f32/i32 value a load gives. */
  loadedValue(global: string, element: string): string {
    const convert = loadConversion[this.dtypeOf(global)];
    return convert ? `${convert}(${element})` : element;
  }

  storeValue(global: string, value: string): string {
    const convert = storeConversion[this.dtypeOf(global)];
    return convert ? `${convert}(${value})` : value;
  }

  print(e: IExpr): string {
    switch (e.op) {
      case "const": return e.type === "f32" ? floatLiteral(e.value) : e.type === "bool" ? String(Boolean(e.value)) : String(e.value);
      case "param": return e.name;
      case "var": return e.name;
      case "pid": return this.dialect.pid(e.axis);
      case "dim": return `(int)${dimName(e.global, e.axis)}`;
      case "binary": return `(${this.print(e.left)} ${e.kind} ${this.print(e.right)})`;
      case "unary": return `(${e.kind === "neg" ? "-" : "!"}${this.print(e.operand)})`;
      case "select": return `(${this.print(e.cond)} ? ${this.print(e.then)} : ${this.print(e.else)})`;
      case "math": return this.dialect.math[e.fn](e.args.map((a) => this.print(a)), cType[e.type]);
      case "cast": return `((${cType[e.type]})(${this.print(e.operand)}))`;
      case "reduce": return this.dialect.reduce(e, (x) => this.print(x));
      case "load": return this.loadExpr(e.global, this.offset(e.global, e.indices));
      case "scratchLoad": return `${e.scratch}[${this.print(e.index)}]`;
    }
  }
}

export function pointerType(g: GlobalParam): string {
  return dtypeOf(g.dtype)!.storageType;
}

/** The uniform launch ABI: pointers, f64 scalars and int64 dims, in parameter order. */
export function unpackArguments(ir: KernelIR): string[] {
  const lines: string[] = [];
  let ptr = 0;
  let scalar = 0;
  let dim = 0;
  for (const p of ir.params) {
    if (p.kind === "global") {
      lines.push(`${p.written ? "" : "const "}${pointerType(p)}* ${p.name} = (${p.written ? "" : "const "}${pointerType(p)}*)ptrs[${ptr++}];`);
      p.dims.forEach((_, axis) => lines.push(`[[maybe_unused]] const int64_t ${dimName(p.name, axis)} = dims[${dim++}];`));
    } else if (p.kind === "scalar") {
      lines.push(`const ${cType[p.type]} ${p.name} = (${cType[p.type]})scalars[${scalar++}];`);
    }
  }
  return lines;
}
