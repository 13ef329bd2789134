// The engine's adapters: those loaded in host memory (at most maxCpuLoras, least recently used
// dropped first, never one a live request runs), and which of them sits in each of the model's
// maxLoras slots. The scheduler keeps a step to at most maxLoras adapters, so every step's
// adapters fit the slots; a slot is rewritten only when its adapter is not in the step.
import type { LoraRunner } from "../engine/model-runner.ts";
import { TsvllmError } from "../errors.ts";
import type { LoRARequest } from "./lora-request.ts";
import { loadPeftAdapter, type LoraAdapter } from "./peft-adapter.ts";

export class LoraManager {
  /** Loaded adapters by id, least recently used first. */
  private readonly adapters = new Map<number, LoraAdapter>();
  /** The adapter id in each slot, or null. */
  private readonly slots: (number | null)[];
  /** Live requests per adapter id: those adapters stay loaded. */
  private readonly users = new Map<number, number>();
  /** Adapters written into slots so far (a rewrite costs a copy of every LoRA table's slot). */
  numSlotLoads = 0;

  constructor(
    private readonly runner: LoraRunner,
    private readonly maxCpuLoras: number,
  ) {
    this.slots = new Array<number | null>(runner.maxLoras).fill(null);
  }

  get maxLoras(): number {
    return this.runner.maxLoras;
  }

  /** Loads the adapter unless it is loaded (false then); throws TsvllmError for an adapter the model cannot run. */
  async add(request: LoRARequest): Promise<boolean> {
    const loaded = this.adapters.get(request.loraIntId);
    if (loaded) {
      this.checkSame(loaded.request, request);
      return false;
    }
    for (const adapter of this.adapters.values()) {
      if (adapter.request.loraName === request.loraName) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `a LoRA adapter named "${request.loraName}" is already loaded with id ${adapter.request.loraIntId}`, "lora_name");
    }
    const adapter = await loadPeftAdapter(request, this.runner.maxLoraRank);
    this.runner.checkAdapter(adapter);
    if (this.adapters.has(request.loraIntId)) return false;
    this.adapters.set(request.loraIntId, adapter);
    this.evictIdle(request.loraIntId);
    return true;
  }

  /** Unloads the adapter (false if it is not loaded); refused while a live request runs it. */
  remove(loraIntId: number): boolean {
    if (!this.adapters.has(loraIntId)) return false;
    if ((this.users.get(loraIntId) ?? 0) > 0) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter ${loraIntId} has live requests`, "lora_int_id");
    this.adapters.delete(loraIntId);
    const slot = this.slots.indexOf(loraIntId);
    if (slot >= 0) this.slots[slot] = null;
    return true;
  }

  list(): LoRARequest[] {
    return [...this.adapters.values()].map((a) => a.request);
  }

  /** Checks a request's adapter is loaded (the same one) and keeps it loaded until release(). */
  acquire(request: LoRARequest): void {
    const adapter = this.adapters.get(request.loraIntId);
    if (!adapter) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter "${request.loraName}" (id ${request.loraIntId}) is not loaded; add it first`, "lora_request");
    this.checkSame(adapter.request, request);
    this.users.set(request.loraIntId, (this.users.get(request.loraIntId) ?? 0) + 1);
    this.adapters.delete(request.loraIntId);
    this.adapters.set(request.loraIntId, adapter);
  }

  release(request: LoRARequest): void {
    const left = (this.users.get(request.loraIntId) ?? 1) - 1;
    if (left > 0) this.users.set(request.loraIntId, left);
    else this.users.delete(request.loraIntId);
    this.evictIdle();
  }

  /** Adapter ids with live requests. */
  get activeIds(): number[] {
    return [...this.users.keys()];
  }

  /** Puts each of the step's adapters in a slot (at most maxLoras of them); returns id -> slot. */
  assignSlots(ids: ReadonlySet<number>): Map<number, number> {
    if (ids.size > this.slots.length) throw new Error(`a step has ${ids.size} LoRA adapters, the model ${this.slots.length} slots`);
    const assigned = new Map<number, number>();
    for (const id of ids) {
      const slot = this.slots.indexOf(id);
      if (slot >= 0) assigned.set(id, slot);
    }
    for (const id of ids) {
      if (assigned.has(id)) continue;
      const free = this.slots.findIndex((occupant) => occupant === null || !ids.has(occupant));
      const adapter = this.adapters.get(id);
      if (!adapter) throw new Error(`LoRA adapter ${id} is scheduled but not loaded`);
      this.runner.setSlot(free, adapter);
      this.numSlotLoads++;
      this.slots[free] = id;
      assigned.set(id, free);
    }
    return assigned;
  }

  private checkSame(loaded: LoRARequest, request: LoRARequest): void {
    if (loaded.loraName !== request.loraName || loaded.loraPath !== request.loraPath) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA id ${request.loraIntId} is already "${loaded.loraName}" (${loaded.loraPath}), not "${request.loraName}" (${request.loraPath})`, "lora_int_id");
    }
  }

  /** Drops adapters no live request runs, least recently used first, down to maxCpuLoras (never `keep`, just loaded). */
  private evictIdle(keep?: number): void {
    for (const [id] of this.adapters) {
      if (this.adapters.size <= this.maxCpuLoras) return;
      if (this.users.has(id) || id === keep) continue;
      this.remove(id);
    }
  }
}
