// loadModel's allocate option (HostAllocator, runtime/loader/types.ts): safetensors data is read
// into the buffers it hands out, one per tensor, with the same bits as the default typed arrays.
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

test.run();
