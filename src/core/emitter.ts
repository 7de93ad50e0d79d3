/**
 * A small typed event emitter. Unlike Node's EventEmitter it gives `error` no
 * special meaning, and a listener that throws is reported through `onListenerError`
 * instead of breaking the connection that emitted the event.
 */
export type Listener<T> = (payload: T) => void;

/** What `once` adds in place of a listener: it removes itself, then calls `listener` (which `off` also matches). */
type OnceWrapper = Listener<never> & { readonly listener: Listener<never> };

export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (error: unknown) => void = defaultListenerError) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    if (typeof listener !== 'function') throw new TypeError(`listener for "${String(event)}" must be a function`);
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Adds a listener for the next emit of `event` only; returns a function that removes it before then. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    if (typeof listener !== 'function') throw new TypeError(`listener for "${String(event)}" must be a function`);
    const wrapper = Object.assign(
      (payload: Events[K]) => {
        this.off(event, wrapper);
        listener(payload);
      },
      { listener: listener as Listener<never> },
    );
    return this.on(event, wrapper);
  }

  /** Removes a listener added with `on`, or with `once` (by the listener it was given). */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    if (!set.delete(listener as Listener<never>)) {
      for (const entry of set) {
        if ((entry as Partial<OnceWrapper>).listener === listener) {
          set.delete(entry);
          break;
        }
      }
    }
    if (set.size === 0) this.listeners.delete(event);
  }

  /** Number of listeners for one event, or for all. */
  listenerCount(event?: keyof Events): number {
    if (event !== undefined) return this.listeners.get(event)?.size ?? 0;
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): boolean {
    const set = this.listeners.get(event);
    if (!set) return false;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.onListenerError(error);
      }
    }
    return true;
  }
}

function defaultListenerError(error: unknown): void {
  // Surface the bug without unwinding the socket's event handler.
  queueMicrotask(() => {
    throw error;
  });
}
