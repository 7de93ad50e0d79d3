import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '../src/core/emitter.js';

interface Events {
  data: string;
  count: number;
  error: Error;
}

describe('Emitter', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('calls a listener added with on with the emitted payload', () => {
    const emitter = new Emitter<Events>();
    const listener = vi.fn();
    emitter.on('data', listener);
    emitter.emit('data', 'hello');
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith('hello');
  });

  it('returns true from emit when the event has listeners and false when it has none', () => {
    const emitter = new Emitter<Events>();
    expect(emitter.emit('data', 'x')).toBe(false);
    emitter.on('data', () => {});
    expect(emitter.emit('data', 'x')).toBe(true);
    expect(emitter.emit('count', 1)).toBe(false);
  });

  it('calls only the listeners of the emitted event', () => {
    const emitter = new Emitter<Events>();
    const onData = vi.fn();
    const onCount = vi.fn();
    emitter.on('data', onData);
    emitter.on('count', onCount);
    emitter.emit('count', 3);
    expect(onCount).toHaveBeenCalledWith(3);
    expect(onData).not.toHaveBeenCalled();
  });

  it('calls listeners in the order they were added', () => {
    const emitter = new Emitter<Events>();
    const calls: string[] = [];
    emitter.on('data', () => calls.push('first'));
    emitter.on('data', () => calls.push('second'));
    emitter.on('data', () => calls.push('third'));
    emitter.emit('data', 'x');
    expect(calls).toEqual(['first', 'second', 'third']);
  });

  it('stops calling a listener removed with off', () => {
    const emitter = new Emitter<Events>();
    const removed = vi.fn();
    const kept = vi.fn();
    emitter.on('data', removed);
    emitter.on('data', kept);
    emitter.off('data', removed);
    emitter.emit('data', 'x');
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('returns false from emit once the last listener is removed', () => {
    const emitter = new Emitter<Events>();
    const listener = () => {};
    emitter.on('data', listener);
    emitter.off('data', listener);
    expect(emitter.emit('data', 'x')).toBe(false);
    expect(emitter.listenerCount('data')).toBe(0);
  });

  it('ignores off for a listener or an event that was never added', () => {
    const emitter = new Emitter<Events>();
    const listener = vi.fn();
    emitter.on('data', listener);
    expect(() => emitter.off('data', () => {})).not.toThrow();
    expect(() => emitter.off('count', () => {})).not.toThrow();
    expect(emitter.listenerCount('data')).toBe(1);
    emitter.emit('data', 'x');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('returns from on a function that removes the listener', () => {
    const emitter = new Emitter<Events>();
    const listener = vi.fn();
    const unsubscribe = emitter.on('data', listener);
    expect(typeof unsubscribe).toBe('function');
    unsubscribe();
    emitter.emit('data', 'x');
    expect(listener).not.toHaveBeenCalled();
    expect(emitter.listenerCount('data')).toBe(0);
  });

  it('lets the unsubscribe function be called more than once', () => {
    const emitter = new Emitter<Events>();
    const other = vi.fn();
    const unsubscribe = emitter.on('data', () => {});
    emitter.on('data', other);
    unsubscribe();
    unsubscribe();
    expect(emitter.listenerCount('data')).toBe(1);
    emitter.emit('data', 'x');
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('counts listeners per event and in total', () => {
    const emitter = new Emitter<Events>();
    expect(emitter.listenerCount()).toBe(0);
    expect(emitter.listenerCount('data')).toBe(0);
    const offA = emitter.on('data', () => {});
    emitter.on('data', () => {});
    emitter.on('count', () => {});
    expect(emitter.listenerCount('data')).toBe(2);
    expect(emitter.listenerCount('count')).toBe(1);
    expect(emitter.listenerCount('error')).toBe(0);
    expect(emitter.listenerCount()).toBe(3);
    offA();
    expect(emitter.listenerCount('data')).toBe(1);
    expect(emitter.listenerCount()).toBe(2);
  });

  it('throws a TypeError naming the event when the listener is not a function', () => {
    const emitter = new Emitter<Events>();
    let caught: unknown;
    try {
      emitter.on('data', 'not a function' as unknown as (payload: string) => void);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as TypeError).message).toBe('listener for "data" must be a function');
    expect(emitter.listenerCount()).toBe(0);
  });

  it('does not call a listener added during an emit until the next emit', () => {
    const emitter = new Emitter<Events>();
    const late = vi.fn();
    emitter.on('data', () => {
      emitter.on('data', late);
    });
    emitter.emit('data', 'first');
    expect(late).not.toHaveBeenCalled();
    emitter.emit('data', 'second');
    expect(late).toHaveBeenCalledWith('second');
  });

  it('gives the "error" event no special meaning', () => {
    const emitter = new Emitter<Events>();
    expect(() => emitter.emit('error', new Error('boom'))).not.toThrow();
    expect(emitter.emit('error', new Error('boom'))).toBe(false);
    const listener = vi.fn();
    emitter.on('error', listener);
    const err = new Error('boom');
    expect(emitter.emit('error', err)).toBe(true);
    expect(listener).toHaveBeenCalledWith(err);
  });

  describe('a listener that throws', () => {
    it('does not stop the other listeners, and its error goes to onListenerError', () => {
      const onListenerError = vi.fn();
      const emitter = new Emitter<Events>(onListenerError);
      const boom = new Error('listener failed');
      const before = vi.fn();
      const after = vi.fn();
      emitter.on('data', before);
      emitter.on('data', () => {
        throw boom;
      });
      emitter.on('data', after);

      expect(() => emitter.emit('data', 'x')).not.toThrow();
      expect(before).toHaveBeenCalledWith('x');
      expect(after).toHaveBeenCalledWith('x');
      expect(onListenerError).toHaveBeenCalledTimes(1);
      expect(onListenerError).toHaveBeenCalledWith(boom);
    });

    it('still makes emit return true', () => {
      const emitter = new Emitter<Events>(() => {});
      emitter.on('data', () => {
        throw new Error('x');
      });
      expect(emitter.emit('data', 'x')).toBe(true);
    });

    it('reports each throwing listener separately, including non-Error values', () => {
      const onListenerError = vi.fn();
      const emitter = new Emitter<Events>(onListenerError);
      const first = new TypeError('first');
      emitter.on('count', () => {
        throw first;
      });
      emitter.on('count', () => {
        throw 'second';
      });
      emitter.emit('count', 1);
      expect(onListenerError.mock.calls).toEqual([[first], ['second']]);
    });

    it('by default rethrows the error asynchronously instead of from emit', () => {
      const scheduled: Array<() => void> = [];
      vi.stubGlobal('queueMicrotask', (callback: () => void) => {
        scheduled.push(callback);
      });
      const emitter = new Emitter<Events>();
      const boom = new Error('default handler');
      const after = vi.fn();
      emitter.on('data', () => {
        throw boom;
      });
      emitter.on('data', after);

      expect(() => emitter.emit('data', 'x')).not.toThrow();
      expect(after).toHaveBeenCalledTimes(1);
      expect(scheduled).toHaveLength(1);
      let rethrown: unknown;
      try {
        scheduled[0]!();
      } catch (err) {
        rethrown = err;
      }
      expect(rethrown).toBe(boom);
    });
  });

  describe('once', () => {
    it('calls a listener added with once for the next emit only', () => {
      const emitter = new Emitter<Events>();
      const listener = vi.fn();
      emitter.once('data', listener);
      expect(emitter.listenerCount('data')).toBe(1);
      emitter.emit('data', 'first');
      emitter.emit('data', 'second');
      expect(listener).toHaveBeenCalledTimes(1);
      expect(listener).toHaveBeenCalledWith('first');
      expect(emitter.listenerCount('data')).toBe(0);
    });

    it('removes a once listener before the emit with the function it returns, or with off and the listener itself', () => {
      const emitter = new Emitter<Events>();
      const removed = vi.fn();
      const offed = vi.fn();
      const remove = emitter.once('data', removed);
      emitter.once('data', offed);
      remove();
      emitter.off('data', offed);
      expect(emitter.emit('data', 'x')).toBe(false);
      expect(removed).not.toHaveBeenCalled();
      expect(offed).not.toHaveBeenCalled();
    });

    it('removes a once listener that throws, reporting the error once', () => {
      const errors: unknown[] = [];
      const emitter = new Emitter<Events>((error) => errors.push(error));
      const boom = new Error('boom');
      emitter.once('data', () => {
        throw boom;
      });
      emitter.emit('data', 'a');
      emitter.emit('data', 'b');
      expect(errors).toEqual([boom]);
      expect(emitter.listenerCount()).toBe(0);
    });

    it('calls a listener once per once, and not again when an emit from inside it re-enters', () => {
      const emitter = new Emitter<Events>();
      const seen: string[] = [];
      emitter.once('data', (payload) => {
        seen.push(payload);
        emitter.emit('data', `${payload} again`);
      });
      emitter.emit('data', 'x');
      expect(seen).toEqual(['x']);
    });

    it('throws TypeError for a listener that is not a function', () => {
      const emitter = new Emitter<Events>();
      expect(() => emitter.once('data', 'nope' as never)).toThrow(new TypeError('listener for "data" must be a function'));
    });
  });
});
