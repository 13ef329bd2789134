// Host-side launch of one compiled kernel from JS, used by kernel tests and tools: converts JS
// Globals (f32/i32 values) into native storage (f16/bf16 bits where the kernel wants them), checks
// that named dims agree across arguments and with Const values, calls the kernel, and copies
// written outputs back.
import { f32ToBf16Bits, f32ToF16Bits, f32ToFp8e4m3Bits, f32ToFp8e5m2Bits, bf16BitsToF32, f16BitsToF32, fp8e4m3BitsToF32, fp8e5m2BitsToF32 } from "../../dsl/dtype.ts";
import { Global, literalDimSize } from "../../dsl/global.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import type { KernelIR } from "../ir/types.ts";

export type NativeKernel = (buffers: (ArrayBufferView | ArrayBuffer)[], scalars: number[], dims: number[]) => void;

/** A tensor's values as the storage a kernel reads (f16/bf16/fp8 bits, or the values themselves). */
/** into[i] = bits(values[i]). A loop rather than TypedArray.from with a map function, which goes
 *  through an intermediate JS array and fails past ~100M elements (the GPU check's 28672 x 4096 weights). */
function encode<T extends Uint8Array | Uint16Array>(values: Float32Array | Int32Array, into: T, bits: (v: number) => number): T {
  for (let i = 0; i < values.length; i++) into[i] = bits(values[i]);
  return into;
}

export function toNative(g: Global, dtype: string): ArrayBufferView {
  switch (dtype) {
    case "f32": return Float32Array.from(g.data);
    case "i32": return Int32Array.from(g.data);
    case "u8": return Uint8Array.from(g.data);
    case "i8": return Int8Array.from(g.data);
    case "fp8e4m3": return encode(g.data, new Uint8Array(g.data.length), f32ToFp8e4m3Bits);
    case "fp8e5m2": return encode(g.data, new Uint8Array(g.data.length), f32ToFp8e5m2Bits);
    case "f16": return encode(g.data, new Uint16Array(g.data.length), f32ToF16Bits);
    case "bf16": return encode(g.data, new Uint16Array(g.data.length), f32ToBf16Bits);
    default: throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `no host conversion for ${dtype} tensors`);
  }
}

const decodeBits: Record<string, (bits: number) => number> = { f16: f16BitsToF32, bf16: bf16BitsToF32, fp8e4m3: fp8e4m3BitsToF32, fp8e5m2: fp8e5m2BitsToF32 };

/** Storage written by a kernel back into a tensor's values. */
export function fromNative(buf: ArrayBufferView, dtype: string, into: Global): void {
  const decode = decodeBits[dtype];
  if (decode) {
    const src = buf as Uint16Array | Uint8Array;
    for (let i = 0; i < src.length; i++) into.data[i] = decode(src[i]);
  } else into.data.set(buf as Float32Array | Int32Array | Uint8Array | Int8Array);
}

/** Checks dims and packs arguments in the launch ABI's order (pointers, scalars, dims). */
export function packArguments(ir: KernelIR, args: readonly (Global | number)[]) {
  if (args.length !== ir.params.length) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${ir.symbol} takes ${ir.params.length} arguments, got ${args.length}`);
  const sizes = new Map<string, number>(Object.entries(ir.consts));
  const buffers: ArrayBufferView[] = [];
  const scalars: number[] = [];
  const dims: number[] = [];
  ir.params.forEach((p, i) => {
    const a = args[i];
    if (p.kind === "global") {
      if (!(a instanceof Global)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${ir.symbol}: argument ${p.name} must be a Global`);
      if (a.shape.length !== p.dims.length) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${ir.symbol}: ${p.name} has rank ${a.shape.length}, expected ${p.dims.length}`);
      p.dims.forEach((d, axis) => {
        const known = sizes.get(d) ?? literalDimSize(d);
        if (known !== undefined && known !== a.shape[axis]) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${ir.symbol}: dim ${d} of ${p.name} is ${a.shape[axis]}, expected ${known}`);
        sizes.set(d, a.shape[axis]);
        dims.push(a.shape[axis]);
      });
      buffers.push(toNative(a, p.dtype));
    } else if (p.kind === "scalar") scalars.push(a as number);
  });
  return { buffers, scalars, dims };
}

export function launch(native: NativeKernel, ir: KernelIR, args: readonly (Global | number)[]): void {
  const { buffers, scalars, dims } = packArguments(ir, args);
  native(buffers, scalars, dims);
  let b = 0;
  ir.params.forEach((p, i) => {
    if (p.kind !== "global") return;
    const buf = buffers[b++];
    if (p.written) fromNative(buf, p.dtype, args[i] as Global);
  });
}
