// Where loadModel puts tensor data (TensorMemory, runtime/loader/types.ts): read into the buffers
// `allocate` hands out, one per tensor, or mapped from the file by the addon's mapFile where the
// data is aligned for its type; either way with the same bits as the default typed arrays, for
// GGUF too (whose q/k rows are then un-permuted into arrays of their own). Writes into a mapped
// tensor stay private to the process.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadSamplerAddon } from "../../runtime/engine/sampler-addon.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadSafetensorsFile } from "../../runtime/loader/safetensors.ts";
import type { LoadedTensor } from "../../runtime/loader/types.ts";
import { nativeTensorMemory, type HostMemoryAddon } from "../../runtime/model/weights.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const tempDir = useTempDir(test, "tsvllm-tensor-memory-");
const bits = (t: LoadedTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** The addon's host memory, counting the tensors it maps. */
function countingAddon(): { memory: ReturnType<typeof nativeTensorMemory>; mapped: ArrayBuffer[] } {
  const addon = loadSamplerAddon() as unknown as HostMemoryAddon;
  const mapped: ArrayBuffer[] = [];
  const memory = nativeTensorMemory({ allocateHostBuffer: (bytes) => addon.allocateHostBuffer(bytes), mapFile: (path, offset, bytes) => (mapped.push(addon.mapFile(path, offset, bytes)), mapped[mapped.length - 1]) });
  return { memory, mapped };
}

test("tensors are read into the allocator's buffers, bit for bit as without it", async () => {
  const dir = "../shared/models/stories260K-hf";
  const buffers: ArrayBuffer[] = [];
  const allocate = (bytes: number) => {
    const b = new ArrayBuffer(bytes);
    buffers.push(b);
    return b;
  };
  const [plain, allocated] = [await loadModel(dir), await loadModel(dir, { allocate })];
  assert.is(buffers.length, plain.tensors.size);
  for (const [name, t] of plain.tensors) {
    const other = allocated.tensors.get(name)!;
    assert.ok(buffers.includes(other.data.buffer as ArrayBuffer), `${name} lives in an allocated buffer`);
    assert.equal(other.shape, t.shape);
    assert.is(other.dtype, t.dtype);
    assert.ok(Buffer.from(other.data.buffer, other.data.byteOffset, other.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${name}: same bits`);
  }
});

test("a GGUF file reads each tensor into an allocated buffer and loads the same bits", async () => {
  const file = "../shared/models/stories260K/stories260K.gguf";
  let calls = 0;
  const [plain, allocated] = [await loadModel(file), await loadModel(file, { allocate: (bytes) => (calls++, new ArrayBuffer(bytes)) })];
  assert.ok(calls >= plain.tensors.size, `${calls} allocations for ${plain.tensors.size} tensors`);
  for (const [name, t] of plain.tensors) {
    const other = allocated.tensors.get(name)!;
    assert.ok(Buffer.from(other.data.buffer, other.data.byteOffset, other.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${name}: same bits`);
  }
});

for (const source of ["../shared/models/stories260K-hf", "../shared/models/stories260K/stories260K.gguf"]) {
  test(`mapped from the file, bit for bit as read, and writes stay private (${source})`, async () => {
    const { memory, mapped } = countingAddon();
    const [plain, viaMapping] = [await loadModel(source), await loadModel(source, memory)];
    assert.ok(mapped.length > 0, "aligned tensors are mapped");
    for (const [name, t] of plain.tensors) assert.ok(bits(viaMapping.tensors.get(name)!).equals(bits(t)), `${name}: same bits`);
    const inMapping = [...viaMapping.tensors.values()].find((t) => mapped.includes(t.data.buffer as ArrayBuffer))!;
    new Uint8Array(inMapping.data.buffer, inMapping.data.byteOffset, 4).fill(0x5a);
    const again = await loadModel(source);
    assert.ok(bits(again.tensors.get(inMapping.name)!).equals(bits(plain.tensors.get(inMapping.name)!)), "the file is unchanged");
  });
}

test("a tensor whose data is not aligned for its type in the file is read instead", async () => {
  // An f16 tensor of one value, then an f32 tensor 2 bytes further: misaligned by 2.
  let header = JSON.stringify({ a: { dtype: "F16", shape: [1], data_offsets: [0, 2] }, b: { dtype: "F32", shape: [3], data_offsets: [2, 14] } });
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(14);
  data.writeUInt16LE(0x3c00, 0);
  [1.5, -2, 3.25].forEach((v, i) => data.writeFloatLE(v, 2 + 4 * i));
  const file = join(tempDir(), "unaligned.safetensors");
  writeFileSync(file, Buffer.concat([length, Buffer.from(header), data]));
  const { memory, mapped } = countingAddon();
  const tensors = new Map<string, LoadedTensor>();
  await loadSafetensorsFile(file, tensors, undefined, memory);
  assert.is(mapped.length, 1, "only the aligned f16 tensor is mapped");
  assert.equal([...(tensors.get("b")!.data as Float32Array)], [1.5, -2, 3.25]);
  assert.equal([...(tensors.get("a")!.data as Uint16Array)], [0x3c00]);
});

test("mapFile names the file it cannot open", () => {
  const addon = loadSamplerAddon() as unknown as HostMemoryAddon;
  assert.throws(() => addon.mapFile(join(tempDir(), "missing.safetensors"), 0, 16), /missing\.safetensors: cannot open/);
});

test.run();
