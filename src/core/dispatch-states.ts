/**
 * Read off the connection machine's table once, at module load: the states in
 * which a frame from the peer needs no interpreter step.
 */
import { connectionTable } from '../engine/generated/connection.table.js';

/**
 * The connection states in which `message.received` does nothing but the
 * `dispatchMessage` action (no target, no guard), read off the machine. In those
 * states the host hands each frame to the dispatcher itself, which is what the
 * machine would do, without an interpreter step per frame. With an inspector
 * attached, every frame still goes through the actor so that it shows.
 */
export const DISPATCH_STATES: ReadonlySet<string> = new Set(
  connectionTable.states
    .filter((state, index) => {
      const transitions = state.on?.['message.received'];
      if (state.path.length !== 1 || transitions?.length !== 1) return false;
      const [t] = transitions;
      return t!.target === index && t!.guard === undefined && t!.steps.length === 1 && t!.steps[0] === 'dispatchMessage';
    })
    .map((state) => state.path[0]!),
);
