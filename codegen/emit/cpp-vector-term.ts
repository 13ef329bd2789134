// A dotTile operand's term as one SIMD vector of consecutive columns, for the broadcast form: the
// vector's lanes are columns c .. c + width - 1, and every memory read in the term either walks
// them with unit stride (a vector load, widened from its element type) or reads one address for
// all of them (a broadcast). The term may then compute on its loads: the quantized panels'
// dequantization, f32(q & 15) * scale - min, becomes integer vector ops, a conversion and a fused
// multiply-subtract per vector, so those kernels stream their packed bytes through the same
// micro-kernel as float panels. Anything else (selects, divisions, a gather) is not vectorized and
// leaves the tile to the portable loops.
import type { IExpr } from "../ir/types.ts";
import { forEachExpr, mapChildren, substituteVars } from "../ir/walk.ts";
import type { ExprPrinter } from "./c-expr.ts";

/** A vector value: its lane type and its C text for one vector width (16: AVX-512, 8: AVX2). */
interface VectorValue {
  lanes: "f32" | "i32";
  print(width: number): string;
  /** Addresses of the vector loads it makes. */
  addresses: string[];
  /** Of those, the integer (quantized) loads: the large stream of a dequantizing term. */
  integerAddresses: string[];
}

/** A vectorized term: its f32 value as C text per width, and what a prefetch ahead should read. */
export interface VectorTerm {
  print(width: number): string;
  /** Its integer loads' addresses where it has any (the scales beside them are read a group at a time, mostly from L1), else every load's. */
  prefetchAddresses: string[];
}

/** Element types a vector load widens to f32 lanes, and those it widens to i32 lanes. */
const floatLoads = new Set(["f32", "f16", "bf16"]);
const intLoads = new Set(["i8", "u8"]);

function mentions(e: IExpr, name: string): boolean {
  let found = false;
  forEachExpr(e, (x) => {
    if (x.op === "var" && x.name === name) found = true;
  });
  return found;
}

/** Whether the index expression is `v`, `x + v` or `v + x` with x free of v: unit stride in v. */
function unitStride(e: IExpr, v: string): boolean {
  if (e.op === "var") return e.name === v;
  if (e.op !== "binary" || e.kind !== "+") return false;
  return (unitStride(e.left, v) && !mentions(e.right, v)) || (unitStride(e.right, v) && !mentions(e.left, v));
}

const zeroed = (e: IExpr, lane: string): IExpr => substituteVars(e, new Map<string, IExpr>([[lane, { op: "const", type: "i32", value: 0 }]]));

/** The address of a load's (or scratch read's) first element and its element type, when its last index walks `v` with unit stride and its other indices do not move with it. */
export function contiguousLoad(e: IExpr, v: string, p: ExprPrinter): { base: string; element: string } | undefined {
  if (e.op === "scratchLoad") return unitStride(e.index, v) ? { base: `&${e.scratch}[${p.print(zeroed(e.index, v))}]`, element: "f32" } : undefined;
  if (e.op !== "load") return undefined;
  const last = e.indices[e.indices.length - 1];
  if (!unitStride(last, v) || e.indices.slice(0, -1).some((i) => mentions(i, v))) return undefined;
  return { base: `&${e.global}[${p.offset(e.global, e.indices.map((i) => zeroed(i, v)))}]`, element: p.dtypeOf(e.global) };
}

/** A vector load of the lanes, widened to f32 lanes (float elements) or i32 lanes (int8/uint8). */
function vectorLoad(e: IExpr, lane: string, p: ExprPrinter): VectorValue | undefined {
  const stream = contiguousLoad(e, lane, p);
  if (!stream || (!floatLoads.has(stream.element) && !intLoads.has(stream.element))) return undefined;
  const { base, element } = stream;
  const integer = intLoads.has(element);
  return { lanes: integer ? "i32" : "f32", print: (w) => `tsv_load${w}_${element}(${base})`, addresses: [base], integerAddresses: integer ? [base] : [] };
}

const binaryOps: Partial<Record<string, { f32?: string; i32?: string }>> = {
  "+": { f32: "add", i32: "addi" },
  "-": { f32: "sub", i32: "subi" },
  "*": { f32: "mul" },
  "&": { i32: "and" },
};

function combine(lanes: "f32" | "i32", fn: string, args: VectorValue[], extra = ""): VectorValue {
  return { lanes, print: (w) => `tsv_${fn}${w}(${args.map((a) => a.print(w)).join(", ")}${extra})`, addresses: args.flatMap((a) => a.addresses), integerAddresses: args.flatMap((a) => a.integerAddresses) };
}

function vectorOf(e: IExpr, lane: string, p: ExprPrinter): VectorValue | undefined {
  if (!mentions(e, lane)) {
    if (e.type !== "f32" && e.type !== "i32") return undefined;
    const lanes = e.type;
    return { lanes, print: (w) => `tsv_splat${w}${lanes === "i32" ? "_i32" : ""}(${p.print(e)})`, addresses: [], integerAddresses: [] };
  }
  const loaded = vectorLoad(e, lane, p);
  if (loaded) return loaded;
  if (e.op === "cast" && e.type === "f32") {
    const operand = vectorOf(e.operand, lane, p);
    return operand?.lanes === "i32" ? combine("f32", "cvt", [operand]) : operand;
  }
  // i8(): the low byte as signed, as shifts up and back down.
  if (e.op === "math" && e.fn === "i8") {
    const operand = vectorOf(e.args[0], lane, p);
    return operand?.lanes === "i32" ? combine("i32", "srai", [combine("i32", "slli", [operand], ", 24")], ", 24") : undefined;
  }
  if (e.op !== "binary") return undefined;
  if ((e.kind === ">>" || e.kind === "<<") && e.right.op === "const") {
    const operand = vectorOf(e.left, lane, p);
    return operand?.lanes === "i32" ? combine("i32", e.kind === ">>" ? "srai" : "slli", [operand], `, ${e.right.value}`) : undefined;
  }
  // A shift by a count the lanes share but the step sets (the nibble of a 4-bit panel byte at k).
  if (e.kind === ">>" && !mentions(e.right, lane)) {
    const [operand, count] = [vectorOf(e.left, lane, p), vectorOf(e.right, lane, p)];
    return operand?.lanes === "i32" && count?.lanes === "i32" ? combine("i32", "srav", [operand, count]) : undefined;
  }
  // a * b - c and a * b + c (either order): one fused multiply-add.
  const product = (x: IExpr) => x.op === "binary" && x.kind === "*" && x.type === "f32";
  if (e.type === "f32" && (e.kind === "-" || e.kind === "+") && (product(e.left) || (e.kind === "+" && product(e.right)))) {
    const [mul, other] = product(e.left) ? [e.left, e.right] : [e.right, e.left];
    if (mul.op !== "binary") return undefined;
    const parts = [vectorOf(mul.left, lane, p), vectorOf(mul.right, lane, p), vectorOf(other, lane, p)];
    if (!parts.every((v): v is VectorValue => v?.lanes === "f32")) return undefined;
    return combine("f32", e.kind === "-" ? "fmsub" : "fmadd", parts);
  }
  // A byte's high nibble needs no mask: (u8 >> 4) & 15 is u8 >> 4.
  if (e.kind === "&" && e.right.op === "const" && e.left.op === "binary" && e.left.kind === ">>" && e.left.right.op === "const" && e.left.left.op === "load" && p.dtypeOf(e.left.left.global) === "u8" && 255 >> e.left.right.value <= e.right.value && (e.right.value & (e.right.value + 1)) === 0) {
    return vectorOf(e.left, lane, p);
  }
  const lanes = e.type === "f32" ? "f32" : e.type === "i32" ? "i32" : undefined;
  const fn = lanes && binaryOps[e.kind]?.[lanes];
  if (!lanes || !fn) return undefined;
  const left = vectorOf(e.left, lane, p);
  const right = vectorOf(e.right, lane, p);
  return left?.lanes === lanes && right?.lanes === lanes ? combine(lanes, fn, [left, right]) : undefined;
}

/** The term (its columns already bound to `lane`) as an f32 vector, or undefined where some part of it cannot be. */
export function vectorTerm(term: IExpr, lane: string, p: ExprPrinter): VectorTerm | undefined {
  const value = vectorOf(term, lane, p);
  if (value?.lanes !== "f32") return undefined;
  return { print: value.print, prefetchAddresses: value.integerAddresses.length > 0 ? value.integerAddresses : value.addresses };
}

/** The divisors d of every idiv(k, d) in e, or undefined where e reads k any other way. */
function groupDivisors(e: IExpr, k: string): number[] | undefined {
  if (e.op === "var") return e.name === k ? undefined : [];
  if (e.op === "math" && e.fn === "idiv" && e.args[0].op === "var" && e.args[0].name === k && e.args[1].op === "const") return [e.args[1].value];
  const children: IExpr[] = [];
  mapChildren(e, (c) => (children.push(c), c));
  const parts = children.map((c) => groupDivisors(c, k));
  return parts.every((d): d is number[] => d !== undefined) ? parts.flat() : undefined;
}

/**
 * A dequantizing term value * scale - offset (or value * scale) whose scale and offset read k only
 * through idiv(k, d): over each group of `group` consecutive k (the smallest such d, which every
 * other divides) they are constant, so a tile can sum value * a over the group first and apply
 * them once (cpp-tile.ts's grouped pass). Scale and offset stay expressions, to be printed at the
 * group's first k.
 */
export interface GroupedTerm {
  value: VectorTerm;
  scale: IExpr;
  offset: IExpr | undefined;
  group: number;
}

export function groupedTerm(term: IExpr, lane: string, k: string, p: ExprPrinter): GroupedTerm | undefined {
  if (term.type !== "f32" || term.op !== "binary") return undefined;
  const [product, offset] = term.kind === "-" && term.left.op === "binary" && term.left.kind === "*" ? [term.left, term.right] : term.kind === "*" ? [term, undefined] : [undefined, undefined];
  if (!product || product.op !== "binary") return undefined;
  for (const [value, scale] of [[product.left, product.right], [product.right, product.left]]) {
    const divisors = [scale, ...(offset ? [offset] : [])].map((e) => groupDivisors(e, k));
    if (!divisors.every((d): d is number[] => d !== undefined) || divisors[0].length === 0) continue;
    const group = Math.min(...divisors.flat());
    if (group <= 0 || divisors.flat().some((d) => d % group !== 0)) continue;
    const vectors = [vectorTerm(value, lane, p), vectorTerm(scale, lane, p), offset && vectorTerm(offset, lane, p)];
    if (!vectors[0] || !vectors[1] || (offset && !vectors[2])) continue;
    return { value: vectors[0], scale, offset, group };
  }
  return undefined;
}
