// loadModel's allocate option (HostAllocator, runtime/loader/types.ts): tensor data is read into
// the buffers it hands out, one per tensor, with the same bits as the default typed arrays; for
// GGUF too, where the q/k rows are then un-permuted into arrays of their own.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../../runtime/loader/index.ts";

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

test.run();
