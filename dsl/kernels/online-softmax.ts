// One block of the online softmax (Milakov & Gimelshein 2018; FlashAttention's rescaling) shared by
// the attention kernels, for G rows (query heads) of BS scores each: on entry p[g * BS + o] holds
// row g's scores (-inf where masked), m[g] and l[g] the running max and denominator; on exit p holds
// exp(score - mNew), m and l are updated, and alpha[g] = exp(mOld - mNew) is left for rescaling the
// output accumulator. The block must hold a live score per row, so mNew is finite.
import { exp, forEach, max, reduceMax, reduceSum, type Const, type Scratch } from "../index.ts";

export function softmaxBlock(p: Scratch, m: Scratch, l: Scratch, alpha: Scratch, G: Const, BS: Const): void {
  forEach(G, (g) => {
    const mNew = max(m.at(g), reduceMax(BS, (o) => p.at(g * BS + o)));
    alpha.put(g, exp(m.at(g) - mNew));
    forEach(BS, (o) => {
      p.put(g * BS + o, exp(p.at(g * BS + o) - mNew));
    });
    l.put(g, l.at(g) * alpha.at(g) + reduceSum(BS, (o) => p.at(g * BS + o)));
    m.put(g, mNew);
  });
}
