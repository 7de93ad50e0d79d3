/**
 * Read off the connection machine once, at module load: the states in which a
 * frame from the peer needs no interpreter step.
 */
import { connectionMachine } from '../../machines/connection.machine.js';

/**
 * The connection states in which `message.received` does nothing but the
 * `dispatchMessage` action (no target, no guard), read off the machine. In those
 * states the host hands each frame to the dispatcher itself, which is what the
 * machine would do, without an interpreter step per frame. With an inspector
 * attached, every frame still goes through the actor so that it shows.
 */
export const DISPATCH_STATES: ReadonlySet<string> = new Set(
  Object.entries(connectionMachine.root.states)
    .filter(([, node]) => {
      const transitions = node.transitions.get('message.received');
      if (transitions?.length !== 1) return false;
      const [t] = transitions;
      return !t!.target?.length && !t!.guard && t!.actions.length === 1 && t!.actions[0] === 'dispatchMessage';
    })
    .map(([key]) => key),
);
