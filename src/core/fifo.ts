/**
 * A first-in first-out queue over an array with a moving head: `shift()` is
 * O(1) (Array#shift moves every element once the array is large).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  /** Items shifted since the start: the position of `items[head]`. */
  private shifted = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** Adds `item` at the end; returns its position (for `clear`). */
  push(item: T): number {
    this.items.push(item);
    return this.shifted + this.items.length - 1 - this.head;
  }

  /** Lets go of the item pushed at `position`, if still queued: its place stays, and `shift` gives undefined for it. */
  clear(position: number): void {
    const index = this.head + position - this.shifted;
    if (index >= this.head && index < this.items.length) this.items[index] = undefined;
  }

  /** Takes back the item pushed last. */
  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    return this.items.pop();
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    this.shifted++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Drop the consumed prefix once it is most of the array. The old array is emptied too: it may have been
      // promoted to the old generation, where, dead but not yet collected, it would keep the items still queued
      // (and all they reference) alive through every scavenge until the next full GC.
      const rest = this.items.slice(this.head);
      this.items.length = 0;
      this.items = rest;
      this.head = 0;
    }
    return item;
  }
}
