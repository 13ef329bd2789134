// Rotary position embedding (Su et al. 2021), in place on q or k [T, H, HD]. The first R dims of
// each head rotate (R < HD for partial rotary); invFreq [R/2] already carries any scaling (linear,
// dynamic-NTK, llama3, YaRN: models/common/rope.ts), mscale is YaRN's attention factor (else 1).
//   ropeNeox: pairs (i, i + R/2), Hugging Face's rotate_half layout (LLaMA, Qwen, Gemma, Phi-3).
//   ropeGptj: pairs (2i, 2i + 1), the interleaved layout (GPT-J, GGUF-permuted LLaMA weights).
// The angle pos * invFreq is rounded to f32 in the reference too (as Hugging Face's float32 freqs
// are): at positions in the thousands that rounding moves cos/sin by ~1e-4, well above f32 tolerance.
import { cos, f32, forEach, kernel, pid, sin, type Const, type Float, type Global } from "../index.ts";

export const ropeNeox = kernel({ grid: (x) => [x.dim(0), x.dim(1)], threads: 64 })(
  function ropeNeox<A extends Float>(x: Global<A, ["T", "H", "HD"]>, positions: Global<"i32", ["T"]>, invFreq: Global<"f32", ["R2"]>, mscale: f32, R2: Const) {
    const t = pid(0);
    const h = pid(1);
    const pos = f32(positions.at(t));
    forEach(R2, (i) => {
      const angle = f32(pos * invFreq.at(i));
      const c = cos(angle) * mscale;
      const s = sin(angle) * mscale;
      const a = x.at(t, h, i);
      const b = x.at(t, h, i + R2);
      x.put(t, h, i, a * c - b * s);
      x.put(t, h, i + R2, b * c + a * s);
    });
  },
);

export const ropeGptj = kernel({ grid: (x) => [x.dim(0), x.dim(1)], threads: 64 })(
  function ropeGptj<A extends Float>(x: Global<A, ["T", "H", "HD"]>, positions: Global<"i32", ["T"]>, invFreq: Global<"f32", ["R2"]>, mscale: f32, R2: Const) {
    const t = pid(0);
    const h = pid(1);
    const pos = f32(positions.at(t));
    forEach(R2, (i) => {
      const angle = f32(pos * invFreq.at(i));
      const c = cos(angle) * mscale;
      const s = sin(angle) * mscale;
      const a = x.at(t, h, 2 * i);
      const b = x.at(t, h, 2 * i + 1);
      x.put(t, h, 2 * i, a * c - b * s);
      x.put(t, h, 2 * i + 1, b * c + a * s);
    });
  },
);
