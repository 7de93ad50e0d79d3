/**
 * A waiting line: first in, first out, with O(1) removal from anywhere (a call
 * that times out or is cancelled while it waits) and O(1) return to the front
 * (a call put back after its connection was lost). A doubly linked list.
 */
export interface LinePlace<T> {
  readonly value: T;
  prev: LinePlace<T> | undefined;
  next: LinePlace<T> | undefined;
}

export class Line<T> {
  private head: LinePlace<T> | undefined;
  private tail: LinePlace<T> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The first in line, without taking it out. */
  peek(): T | undefined {
    return this.head?.value;
  }

  /** Joins at the back; the place returned takes it out again with `remove`. */
  push(value: T): LinePlace<T> {
    const place: LinePlace<T> = { value, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = place;
    else this.head = place;
    this.tail = place;
    this.count++;
    return place;
  }

  /** Joins at the front. */
  unshift(value: T): LinePlace<T> {
    const place: LinePlace<T> = { value, prev: undefined, next: this.head };
    if (this.head) this.head.prev = place;
    else this.tail = place;
    this.head = place;
    this.count++;
    return place;
  }

  /** Joins right behind `place` (a place of this line, still in it), or at the front when there is none. */
  insertAfter(place: LinePlace<T> | undefined, value: T): LinePlace<T> {
    if (!place) return this.unshift(value);
    const inserted: LinePlace<T> = { value, prev: place, next: place.next };
    if (place.next) place.next.prev = inserted;
    else this.tail = inserted;
    place.next = inserted;
    this.count++;
    return inserted;
  }

  /** Takes the first out. */
  shift(): T | undefined {
    const place = this.head;
    if (!place) return undefined;
    this.remove(place);
    return place.value;
  }

  /** Takes a place out, wherever it is. Must be a place of this line, still in it. */
  remove(place: LinePlace<T>): void {
    if (place.prev) place.prev.next = place.next;
    else this.head = place.next;
    if (place.next) place.next.prev = place.prev;
    else this.tail = place.prev;
    place.prev = place.next = undefined;
    this.count--;
  }

  /** Empties the line, returning what was in it, in order. */
  drain(): T[] {
    const values: T[] = [];
    for (let place = this.head; place; place = place.next) values.push(place.value);
    this.head = this.tail = undefined;
    this.count = 0;
    return values;
  }
}
