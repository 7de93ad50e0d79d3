/**
 * A first-in first-out queue over an array with a moving head: `shift()` is
 * O(1) (Array#shift moves every element once the array is large).
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
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
