/**
 * Page-aligned buffers for O_DIRECT file writes and reads (the folder store, fs.ts), lent out one at a time and
 * reused.
 *
 * O_DIRECT needs the memory, the length and the file offset of each I/O aligned to the device's block size;
 * Node offers no aligned allocation, but a WebAssembly.Memory's buffer starts on an OS page (V8 maps it by
 * pages), so slots cut from one at multiples of DIRECT_IO_ALIGNMENT are aligned. They are reused rather than allocated per
 * write: a buffer touched once costs no fresh pages afterwards (on a VM, a fresh page costs far more than the
 * copy into it).
 */

/** Alignment of every slot, write length and file offset: the largest logical block size of common devices. */
export const DIRECT_IO_ALIGNMENT = 4096;

const WASM_PAGE = 65536;

export class AlignedBufferPool {
  private memory: WebAssembly.Memory | null = null;
  private free: Buffer[] = [];
  private waiters: ((slot: Buffer) => void)[] = [];
  private waitersHead = 0;

  /**
   * @param slotBytes bytes per slot (a multiple of 64 KiB)
   * @param slots how many slots exist; a borrower beyond them waits for one to come back
   */
  constructor(readonly slotBytes: number, readonly slots: number) {
    if (slotBytes % WASM_PAGE !== 0 || slotBytes <= 0) throw new RangeError(`slotBytes ${slotBytes}: a positive multiple of ${WASM_PAGE}`);
    if (!Number.isInteger(slots) || slots <= 0) throw new RangeError(`slots ${slots}: a positive integer`);
  }

  /** Lends a slot (allocating the memory on first use; throws if the memory cannot be had). */
  async acquire(): Promise<Buffer> {
    if (this.memory === null) {
      this.memory = new WebAssembly.Memory({ initial: (this.slotBytes / WASM_PAGE) * this.slots });
      const all = Buffer.from(this.memory.buffer);
      for (let i = 0; i < this.slots; i++) this.free.push(all.subarray(i * this.slotBytes, (i + 1) * this.slotBytes));
    }
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Gives a slot back (to the longest waiter, if any). */
  release(slot: Buffer): void {
    if (this.waitersHead < this.waiters.length) {
      const waiter = this.waiters[this.waitersHead]!;
      this.waiters[this.waitersHead++] = undefined as unknown as (slot: Buffer) => void;
      if (this.waitersHead === this.waiters.length) {
        this.waiters = [];
        this.waitersHead = 0;
      }
      waiter(slot);
    } else {
      this.free.push(slot);
    }
  }
}
