// The engine's adapters: those registered (addLora; what requests may name), those loaded in host
// memory (at most maxCpuLoras, least recently used dropped first but never one a live request
// runs, and read again from their folder when a request needs them), and which sits in each of
// the model's maxLoras slots. The scheduler keeps a step to at most maxLoras adapters, so every
// step's adapters fit the slots; a slot is rewritten only when its adapter is not in the step.
import type { LoraRunner } from "../engine/model-runner.ts";
import { TsvllmError } from "../errors.ts";
import type { LoRARequest } from "./lora-request.ts";
import { loadPeftAdapter, type LoraAdapter } from "./peft-adapter.ts";

export class LoraManager {
  private readonly registered = new Map<number, LoRARequest>();
  /** Loaded adapters by id, least recently used first. */
  private readonly loaded = new Map<number, LoraAdapter>();
  /** The adapter id in each slot, or null. */
  private readonly slots: (number | null)[];
  /** Live requests per adapter id: those adapters stay loaded. */
  private readonly users = new Map<number, number>();
  /** Adapters read from their folders so far. */
  numLoads = 0;
  /** Adapters written into slots so far (a rewrite copies every LoRA table's slot). */
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

  /** Registers and loads the adapter (false if it was registered); throws TsvllmError for one the model cannot run. */
  add(request: LoRARequest): boolean {
    const known = this.registered.get(request.loraIntId);
    if (known) {
      this.checkSame(known, request);
      return false;
    }
    for (const other of this.registered.values()) {
      if (other.loraName === request.loraName) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `a LoRA adapter named "${request.loraName}" is already loaded with id ${other.loraIntId}`, "lora_name");
    }
    this.load(request);
    this.registered.set(request.loraIntId, request);
    return true;
  }

  /** Forgets the adapter (false if it was not registered); refused while a live request runs it. */
  remove(loraIntId: number): boolean {
    if (!this.registered.has(loraIntId)) return false;
    if (this.users.has(loraIntId)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter ${loraIntId} has live requests`, "lora_int_id");
    this.registered.delete(loraIntId);
    this.loaded.delete(loraIntId);
    const slot = this.slots.indexOf(loraIntId);
    if (slot >= 0) this.slots[slot] = null;
    return true;
  }

  list(): LoRARequest[] {
    return [...this.registered.values()];
  }

  /** Throws unless the adapter is registered (the same one: name and path). */
  check(request: LoRARequest): void {
    const known = this.registered.get(request.loraIntId);
    if (!known) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA adapter "${request.loraName}" (id ${request.loraIntId}) is not loaded; add it first`, "lora_request");
    this.checkSame(known, request);
  }

  /** For a new request: checks its adapter, loads it if it was dropped, and keeps it loaded until release(). */
  acquire(request: LoRARequest): void {
    this.check(request);
    const adapter = this.loaded.get(request.loraIntId) ?? this.load(request);
    this.loaded.delete(request.loraIntId);
    this.loaded.set(request.loraIntId, adapter);
    this.users.set(request.loraIntId, (this.users.get(request.loraIntId) ?? 0) + 1);
  }

  release(request: LoRARequest): void {
    const left = (this.users.get(request.loraIntId) ?? 1) - 1;
    if (left > 0) this.users.set(request.loraIntId, left);
    else this.users.delete(request.loraIntId);
    this.evictIdle();
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
      const adapter = this.loaded.get(id);
      if (!adapter) throw new Error(`LoRA adapter ${id} is scheduled but not loaded`);
      this.runner.setSlot(free, adapter);
      this.numSlotLoads++;
      this.slots[free] = id;
      assigned.set(id, free);
    }
    return assigned;
  }

  private load(request: LoRARequest): LoraAdapter {
    const adapter = loadPeftAdapter(request, this.runner.maxLoraRank);
    this.runner.checkAdapter(adapter);
    this.numLoads++;
    this.loaded.set(request.loraIntId, adapter);
    this.evictIdle(request.loraIntId);
    return adapter;
  }

  private checkSame(known: LoRARequest, request: LoRARequest): void {
    if (known.loraName !== request.loraName || known.loraPath !== request.loraPath) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `LoRA id ${request.loraIntId} is already "${known.loraName}" (${known.loraPath}), not "${request.loraName}" (${request.loraPath})`, "lora_int_id");
    }
  }

  /** Drops loaded adapters no live request runs, least recently used first, down to maxCpuLoras (never `keep`, just loaded). */
  private evictIdle(keep?: number): void {
    for (const [id] of this.loaded) {
      if (this.loaded.size <= this.maxCpuLoras) return;
      if (this.users.has(id) || id === keep) continue;
      this.loaded.delete(id);
    }
  }
}
