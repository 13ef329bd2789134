// Executes the thread-level IR on the CPU so GPU lowering bugs (a missing barrier, a wrong strided
// loop, a reduction that drops a warp) show up in CI with no GPU. Threads of a block run in
// lockstep, statement by statement, under an active mask (as a SIMT machine does); a barrier or
// block reduction reached with some threads inactive is a divergence error. Expressions are
// compiled once into closures over per-thread registers. Because lockstep execution would hide a
// missing barrier, every shared and global access goes through a race detector: reading or
// writing an element that another thread wrote since the last barrier (or that another block
// wrote in this launch) is an error, which is exactly what a missing __syncthreads() allows.
import { dtypeOf, f16BitsToF32 } from "../../dsl/dtype.ts";
import type { Global } from "../../dsl/global.ts";
import { floatKey } from "../../dsl/primitives.ts";
import type { IExpr, KernelIR } from "../ir/types.ts";
import { mmaAccumulators, mmaEntry, type MmaTiling, type TStmt, type ThreadKernel } from "./thread-ir.ts";

export class EmulationError extends Error {}

export interface EmulateOptions {
  /** Threads per program; defaults to the kernel's own. Smaller values keep tests fast. A kernel
   *  whose lowering is warp-tiled (tensor-core dotTiles) always runs with its own count. */
  threads?: number;
}

type Mask = Uint8Array;
type Fn = (t: number) => number;
type Exec = (mask: Mask) => void;

const f = Math.fround;

interface BlockState {
  pid: [number, number, number];
  blockId: number;
  /** Incremented at every barrier and block reduction. */
  epoch: number;
  shared: Map<string, Float32Array>;
}

/** Who last wrote each element of a memory (shared array or global), and in which epoch. */
class RaceDetector {
  private readonly writes = new Map<ArrayLike<number>, { thread: Int32Array; block: Int32Array; epoch: Int32Array }>();
  constructor(private readonly state: BlockState, private readonly fail: (m: string) => never) {}

  private record(memory: ArrayLike<number>) {
    let r = this.writes.get(memory);
    if (!r) {
      r = { thread: new Int32Array(memory.length).fill(-1), block: new Int32Array(memory.length).fill(-1), epoch: new Int32Array(memory.length).fill(-1) };
      this.writes.set(memory, r);
    }
    return r;
  }

  check(memory: ArrayLike<number>, name: string, i: number, t: number, write: boolean): void {
    const r = this.record(memory);
    const writer = r.thread[i];
    if (writer >= 0) {
      if (r.block[i] !== this.state.blockId) this.fail(`race on ${name}[${i}]: written by another block in the same launch`);
      if (r.epoch[i] === this.state.epoch && writer !== t) this.fail(`race on ${name}[${i}]: thread ${t} ${write ? "writes" : "reads"} what thread ${writer} wrote with no barrier between`);
    }
    if (write) {
      r.thread[i] = t;
      r.block[i] = this.state.blockId;
      r.epoch[i] = this.state.epoch;
    }
  }
}

export function emulate(tk: ThreadKernel, args: readonly (Global | number)[], options: EmulateOptions = {}): void {
  const ir = tk.ir;
  const threads = tk.fixedThreads ? ir.threads : (options.threads ?? ir.threads);
  if (threads % 32 !== 0) throw new EmulationError("threads must be a multiple of the warp size (32)");
  const globals = new Map<string, Global>();
  const scalars = new Map<string, number>();
  ir.params.forEach((p, i) => {
    if (p.kind === "global") globals.set(p.name, args[i] as Global);
    else if (p.kind === "scalar") scalars.set(p.name, p.type === "f32" ? f(args[i] as number) : (args[i] as number) | 0);
  });
  const block: BlockState = { pid: [0, 0, 0], blockId: 0, epoch: 0, shared: new Map() };
  const compiler = new Compiler(ir, globals, scalars, block, threads, tk.mmaStaging);
  const grid = [0, 1, 2].map((a) => (ir.grid[a] ? compiler.expr(ir.grid[a])(0) : 1));
  const body = compiler.block(tk.body);
  const all = new Uint8Array(threads).fill(1);
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) {
        block.pid = [x, y, z];
        block.blockId = (z * grid[1] + y) * grid[0] + x;
        block.epoch++;
        block.shared = new Map([["tsv_red", new Float32Array(32)]]);
        for (const [name, size] of Object.entries(tk.scratch)) block.shared.set(name, new Float32Array(size).fill(NaN));
        for (const [name, h] of Object.entries(tk.mmaStaging)) block.shared.set(name, new Float32Array(h.size).fill(NaN));
        compiler.resetRegisters();
        body(all);
      }
}

class Compiler {
  private readonly registers = new Map<string, Float64Array>();
  /** Tensor-core accumulators: name -> threads x count, thread-major. */
  private readonly accumulators = new Map<string, Float32Array>();
  private readonly races: RaceDetector;
  constructor(
    private readonly ir: KernelIR,
    private readonly globals: Map<string, Global>,
    private readonly scalars: Map<string, number>,
    private readonly state: BlockState,
    private readonly threads: number,
    private readonly mmaStaging: ThreadKernel["mmaStaging"],
  ) {
    this.races = new RaceDetector(state, (m) => this.fail(m));
  }

  resetRegisters(): void {
    for (const r of this.registers.values()) r.fill(NaN);
    for (const r of this.accumulators.values()) r.fill(NaN);
  }

  private accumulator(name: string, tiling: MmaTiling): Float32Array {
    let r = this.accumulators.get(name);
    if (!r) {
      r = new Float32Array(this.threads * mmaAccumulators(tiling)).fill(NaN);
      this.accumulators.set(name, r);
    }
    return r;
  }

  private reg(name: string): Float64Array {
    let r = this.registers.get(name);
    if (!r) {
      r = new Float64Array(this.threads).fill(NaN);
      this.registers.set(name, r);
    }
    return r;
  }

  private fail(message: string): never {
    throw new EmulationError(`${this.ir.symbol}: ${message}`);
  }

  private requireConverged(mask: Mask, what: string): void {
    for (let t = 0; t < mask.length; t++) if (!mask[t]) this.fail(`divergent ${what}: thread ${t} is inactive`);
  }

  block(stmts: TStmt[]): Exec {
    const compiled = stmts.map((s) => this.stmt(s));
    return (mask) => {
      for (const c of compiled) c(mask);
    };
  }

  private stmt(s: TStmt): Exec {
    const T = this.threads;
    switch (s.op) {
      case "decl":
      case "assign": {
        const r = this.reg(s.name);
        const value = this.expr(s.op === "decl" ? s.init : s.value);
        return (mask) => {
          const next = new Float64Array(T);
          for (let t = 0; t < T; t++) if (mask[t]) next[t] = value(t);
          for (let t = 0; t < T; t++) if (mask[t]) r[t] = next[t];
        };
      }
      case "store": {
        const g = this.globals.get(s.global)!;
        const offset = this.offset(g, s.indices);
        const value = this.expr(s.value);
        return (mask) => {
          const values = new Float64Array(T);
          for (let t = 0; t < T; t++) if (mask[t]) values[t] = value(t);
          for (let t = 0; t < T; t++) {
            if (!mask[t]) continue;
            const o = offset(t);
            this.races.check(g.data, s.global, o, t, true);
            g.data[o] = g.dtype.round(values[t]);
          }
        };
      }
      case "scratchStore": {
        const index = this.expr(s.index);
        const value = this.expr(s.value);
        const staged = this.mmaStaging[s.scratch];
        const round = staged ? dtypeOf(staged.type)!.round : (v: number) => v;
        return (mask) => {
          const arr = this.state.shared.get(s.scratch)!;
          for (let t = 0; t < T; t++) {
            if (!mask[t]) continue;
            const i = index(t);
            if (i < 0 || i >= arr.length) this.fail(`scratch ${s.scratch}[${i}] out of bounds (${arr.length})`);
            const v = round(value(t));
            this.races.check(arr, s.scratch, i, t, true);
            arr[i] = v;
          }
        };
      }
      case "for": return this.loop(s.index, this.expr(s.start), this.expr(s.end), this.expr(s.step), this.block(s.body));
      case "threadLoop": return this.loop(s.index, (t) => t, this.expr(s.count), () => T, this.block(s.body));
      case "if": {
        const cond = this.expr(s.cond);
        const then = this.block(s.then);
        const otherwise = this.block(s.else);
        return (mask) => {
          const a = new Uint8Array(T);
          const b = new Uint8Array(T);
          for (let t = 0; t < T; t++) if (mask[t]) (cond(t) ? a : b)[t] = 1;
          if (a.includes(1)) then(a);
          if (b.includes(1)) otherwise(b);
        };
      }
      case "blockReduce": {
        const r = this.reg(s.name);
        const combine = { sum: (a: number, b: number) => f(a + b), max: Math.max, min: Math.min }[s.kind];
        return (mask) => {
          this.requireConverged(mask, "block reduction");
          this.state.epoch++;
          const red = this.state.shared.get("tsv_red")!;
          for (let w = 0; w < T / 32; w++) {
            let lanes = Array.from(r.subarray(w * 32, w * 32 + 32));
            for (let o = 16; o > 0; o >>= 1) lanes = lanes.map((v, l) => combine(v, lanes[l ^ o]));
            red[w] = lanes[0];
          }
          let v = red[0];
          for (let w = 1; w < T / 32; w++) v = combine(v, red[w]);
          r.fill(v);
          this.state.epoch++;
        };
      }
      case "barrier": return (mask) => {
        this.requireConverged(mask, "barrier");
        this.state.epoch++;
      };
      case "leader": {
        const body = this.block(s.body);
        return (mask) => {
          if (!mask[0]) return;
          const leader = new Uint8Array(T);
          leader[0] = 1;
          body(leader);
        };
      }
      case "mmaZero": {
        const acc = this.accumulator(s.acc, s.tiling);
        return (mask) => {
          this.requireConverged(mask, "mma accumulator set-up");
          acc.fill(0);
        };
      }
      case "mma": return (mask) => {
        this.requireConverged(mask, "mma");
        this.mma(s.tiling, this.accumulator(s.acc, s.tiling), s.a, s.b);
      };
      case "mmaStore": {
        const at = this.expr(s.at);
        return (mask) => {
          this.requireConverged(mask, "mma store");
          this.mmaStore(s.tiling, this.accumulator(s.acc, s.tiling), s.scratch, at);
        };
      }
    }
  }

  /**
   * Every warp's mma.sync m16n8k16 (m16n8k32 for e4m3) steps over the staged chunk: for each of
   * its 16 x 8 tiles and each k step, C += A B with A read from the staged rows and B from the staged columns
   * (products summed exactly, then rounded to f32 once per step), the result landing in the lanes
   * PTX assigns (see MmaTiling). Reads go through the race detector as the warp's.
   */
  private mma(t: MmaTiling, acc: Float32Array, aName: string, bName: string): void {
    const a = this.state.shared.get(aName)!;
    const b = this.state.shared.get(bName)!;
    const count = mmaAccumulators(t);
    const read = (arr: Float32Array, name: string, i: number, thread: number) => {
      if (i >= arr.length) this.fail(`mma operand ${name}[${i}] out of bounds (${arr.length})`);
      this.races.check(arr, name, i, thread, false);
      return arr[i];
    };
    for (let w = 0; w < this.threads / 32; w++) {
      for (let ks = 0; ks < t.kSteps; ks++)
        for (let i = 0; i < t.warpRows; i++)
          for (let j = 0; j < t.warpCols; j++)
            for (let lane = 0; lane < 32; lane++) {
              const thread = w * 32 + lane;
              for (let r = 0; r < 4; r++) {
                const [row, col] = mmaEntry(t, w, lane, i, j, r);
                let sum = 0;
                for (let k = ks * t.kStep; k < (ks + 1) * t.kStep; k++) sum += read(a, aName, row * t.stride + k, w * 32) * read(b, bName, col * t.stride + k, w * 32);
                const slot = thread * count + (i * t.warpCols + j) * 4 + r;
                acc[slot] = f(acc[slot] + sum);
              }
            }
    }
  }

  /** Each thread adds its accumulators into scratch[at + row * cols + col], as the prelude's tsv_warp_mma_store. */
  private mmaStore(t: MmaTiling, acc: Float32Array, name: string, at: Fn): void {
    const arr = this.state.shared.get(name)!;
    const count = mmaAccumulators(t);
    for (let thread = 0; thread < this.threads; thread++) {
      const w = thread >> 5;
      const lane = thread & 31;
      const base = at(thread);
      for (let i = 0; i < t.warpRows; i++)
        for (let j = 0; j < t.warpCols; j++)
          for (let r = 0; r < 4; r++) {
            const [row, col] = mmaEntry(t, w, lane, i, j, r);
            const index = base + row * t.cols + col;
            if (index < 0 || index >= arr.length) this.fail(`scratch ${name}[${index}] out of bounds (${arr.length})`);
            this.races.check(arr, name, index, thread, true);
            arr[index] = f(arr[index] + acc[thread * count + (i * t.warpCols + j) * 4 + r]);
          }
    }
  }

  /** A per-thread loop: each thread runs while its own index is below its own end. */
  private loop(index: string, start: Fn, end: Fn, step: Fn, body: Exec): Exec {
    const T = this.threads;
    const i = this.reg(index);
    return (mask) => {
      const ends = new Float64Array(T);
      const steps = new Float64Array(T);
      const live = new Uint8Array(T);
      for (let t = 0; t < T; t++) {
        if (!mask[t]) continue;
        i[t] = start(t);
        ends[t] = end(t);
        steps[t] = step(t);
        live[t] = i[t] < ends[t] ? 1 : 0;
      }
      while (live.includes(1)) {
        body(live);
        for (let t = 0; t < T; t++) {
          if (!live[t]) continue;
          i[t] += steps[t];
          live[t] = i[t] < ends[t] ? 1 : 0;
        }
      }
    };
  }

  private offset(g: Global, indices: IExpr[]): Fn {
    const idx = indices.map((x) => this.expr(x));
    return (t) => {
      let o = 0;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k](t);
        if (i < 0 || i >= g.shape[k]) this.fail(`index ${i} out of bounds for dim ${k} of a tensor of shape [${g.shape.join(", ")}]`);
        o = o * g.shape[k] + i;
      }
      return o;
    };
  }

  expr(e: IExpr): Fn {
    switch (e.op) {
      case "const": { const v = e.value; return () => v; }
      case "param": { const v = this.scalars.get(e.name)!; return () => v; }
      case "var": {
        const r = this.reg(e.name);
        return (t) => {
          const v = r[t];
          if (Number.isNaN(v) && e.type !== "f32") this.fail(`${e.name} read before it is set`);
          return v;
        };
      }
      case "pid": { const axis = e.axis; return () => this.state.pid[axis]; }
      case "dim": { const v = this.globals.get(e.global)!.shape[e.axis]; return () => v; }
      case "binary": return this.binary(e);
      case "unary": {
        const a = this.expr(e.operand);
        return e.kind === "neg" ? (t) => -a(t) : (t) => (a(t) ? 0 : 1);
      }
      case "select": {
        const [c, a, b] = [this.expr(e.cond), this.expr(e.then), this.expr(e.else)];
        return (t) => (c(t) ? a(t) : b(t));
      }
      case "cast": {
        const a = this.expr(e.operand);
        return e.type === "f32" ? (t) => f(a(t)) : (t) => Math.trunc(a(t)) | 0;
      }
      case "math": return this.math(e.fn, e.args.map((x) => this.expr(x)));
      case "reduce": return this.fail("reductions are hoisted by lowerToThreads");
      case "load": {
        const g = this.globals.get(e.global)!;
        const offset = this.offset(g, e.indices);
        return (t) => {
          const o = offset(t);
          this.races.check(g.data, e.global, o, t, false);
          return g.data[o];
        };
      }
      case "scratchLoad": {
        const index = this.expr(e.index);
        return (t) => {
          const arr = this.state.shared.get(e.scratch)!;
          const i = index(t);
          if (i < 0 || i >= arr.length) this.fail(`scratch ${e.scratch}[${i}] out of bounds (${arr.length})`);
          this.races.check(arr, e.scratch, i, t, false);
          return arr[i];
        };
      }
    }
  }

  private binary(e: Extract<IExpr, { op: "binary" }>): Fn {
    const a = this.expr(e.left);
    const b = this.expr(e.right);
    const isInt = e.type === "i32";
    switch (e.kind) {
      case "+": return isInt ? (t) => (a(t) + b(t)) | 0 : (t) => f(a(t) + b(t));
      case "-": return isInt ? (t) => (a(t) - b(t)) | 0 : (t) => f(a(t) - b(t));
      case "*": return isInt ? (t) => Math.imul(a(t), b(t)) : (t) => f(a(t) * b(t));
      case "/": return (t) => f(a(t) / b(t));
      case "%": return (t) => a(t) % b(t);
      case "<": return (t) => (a(t) < b(t) ? 1 : 0);
      case "<=": return (t) => (a(t) <= b(t) ? 1 : 0);
      case ">": return (t) => (a(t) > b(t) ? 1 : 0);
      case ">=": return (t) => (a(t) >= b(t) ? 1 : 0);
      case "==": return (t) => (a(t) === b(t) ? 1 : 0);
      case "!=": return (t) => (a(t) !== b(t) ? 1 : 0);
      case "&&": return (t) => (a(t) && b(t) ? 1 : 0);
      case "||": return (t) => (a(t) || b(t) ? 1 : 0);
      case "&": return (t) => a(t) & b(t);
      case "|": return (t) => a(t) | b(t);
      case "^": return (t) => a(t) ^ b(t);
      case "<<": return (t) => a(t) << b(t);
      case ">>": return (t) => a(t) >> b(t);
    }
  }

  private math(fn: string, a: Fn[]): Fn {
    const unary = (g: (x: number) => number): Fn => (t) => f(g(a[0](t)));
    switch (fn) {
      case "exp": return unary(Math.exp);
      case "log": return unary(Math.log);
      case "sqrt": return unary(Math.sqrt);
      case "rsqrt": return unary((x) => 1 / Math.sqrt(x));
      case "tanh": return unary(Math.tanh);
      case "sin": return unary(Math.sin);
      case "cos": return unary(Math.cos);
      case "pow": return (t) => f(Math.pow(a[0](t), a[1](t)));
      case "abs": return (t) => Math.abs(a[0](t));
      case "floor": return (t) => Math.floor(a[0](t));
      case "max": return (t) => Math.max(a[0](t), a[1](t));
      case "min": return (t) => Math.min(a[0](t), a[1](t));
      case "cdiv": return (t) => Math.ceil(a[0](t) / a[1](t)) | 0;
      case "idiv": return (t) => Math.trunc(a[0](t) / a[1](t)) | 0;
      case "i8": return (t) => (a[0](t) << 24) >> 24;
      case "f16FromBits": return (t) => f16BitsToF32(a[0](t) & 0xffff);
      case "floatKey": return (t) => floatKey(a[0](t));
      default: return this.fail(`unknown math function ${fn}`);
    }
  }
}
