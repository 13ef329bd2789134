// The index arithmetic of one unrolled step of the broadcast form's k loop, simplified with what
// the loop knows and GCC does not: in `for (; k + sets <= count; k += sets)` from k = 0, k is a
// multiple of `sets`, so at step u (0 <= u < sets) k + u splits exactly. With two steps, a 4-bit
// panel's byte index idiv(k + 1, 2) becomes idiv(k, 2), its nibble shift 4 * ((k + 1) % 2) the
// constant 4, and a group's scale index idiv(k + 1, 32) idiv(k, 32): the two k of a byte then
// print the same load, which the compiler shares, and shift by immediates.
import type { IExpr } from "../ir/types.ts";
import { fold } from "../ir/specialize.ts";
import { mapChildren } from "../ir/walk.ts";

const constant = (value: number): IExpr => ({ op: "const", type: "i32", value });

/** k + u as (u), or undefined if e is not k or k plus a constant. */
function offsetFromK(e: IExpr, k: string): number | undefined {
  if (e.op === "var" && e.name === k) return 0;
  if (e.op === "binary" && e.kind === "+" && e.left.op === "var" && e.left.name === k && e.right.op === "const") return e.right.value;
  return undefined;
}

type Split = { kind: "quotient" | "remainder"; u: number; d: number; kOnly: IExpr };

/** idiv(k + u, d), (k + u) >> s (d = 2^s), (k + u) % d and (k + u) & (d - 1), read as a quotient or remainder of k + u by d. */
function splitOf(e: IExpr, k: string): Split | undefined {
  const kVar: IExpr = { op: "var", type: "i32", name: k };
  if (e.op === "math" && e.fn === "idiv" && e.args[1].op === "const") {
    const u = offsetFromK(e.args[0], k);
    return u === undefined ? undefined : { kind: "quotient", u, d: e.args[1].value, kOnly: { ...e, args: [kVar, e.args[1]] } };
  }
  if (e.op !== "binary" || e.right.op !== "const") return undefined;
  const u = offsetFromK(e.left, k);
  if (u === undefined) return undefined;
  const kOnly: IExpr = { ...e, left: kVar };
  const c = e.right.value;
  if (e.kind === ">>") return { kind: "quotient", u, d: 2 ** c, kOnly };
  if (e.kind === "%") return { kind: "remainder", u, d: c, kOnly };
  if (e.kind === "&" && c > 0 && (c & (c + 1)) === 0) return { kind: "remainder", u, d: c + 1, kOnly };
  return undefined;
}

/**
 * The term at k + u (0 <= u < multiple) with k a multiple of `multiple`: a quotient or remainder
 * of k + u by d splits into k's part and u's where d divides the multiple (the remainder is then
 * u's alone), and a quotient drops u where the multiple divides d; then integer constants fold
 * and a shift by zero goes.
 */
export function alignedStep(term: IExpr, k: string, multiple: number): IExpr {
  const noZeroShift = (e: IExpr): IExpr => (e.op === "binary" && (e.kind === ">>" || e.kind === "<<") && e.right.op === "const" && e.right.value === 0 ? e.left : e);
  const splitAligned = (e: IExpr): IExpr => {
    const split = splitOf(e, k);
    if (!split || split.u < 0 || split.u >= multiple || split.d <= 0) return fold(e);
    const { kind, u, d, kOnly } = split;
    if (multiple % d === 0) {
      if (kind === "remainder") return constant(u % d);
      return Math.floor(u / d) === 0 ? kOnly : { op: "binary", type: "i32", kind: "+", left: kOnly, right: constant(Math.floor(u / d)) };
    }
    return d % multiple === 0 && kind === "quotient" ? kOnly : fold(e);
  };
  const rewrite = (e: IExpr): IExpr => noZeroShift(splitAligned(mapChildren(e, rewrite)));
  return rewrite(term);
}
