// Generated from machines/incomingCall.machine.ts by scripts/generate-tables.ts (npm run generate:tables): do not edit.
// Names refer to machines/incomingCall.logic.ts and to what the owner provides.
import type { MachineTable } from '../table.js';

export const incomingCallTable: MachineTable = {
  id: 'incomingCall',
  context: 'context',
  initial: { target: 0, steps: [] },
  states: [
    {
      path: ['received'],
      always: [
        { target: 1, steps: ['@invoke'], guard: 'hasMethod' },
        { target: 3, steps: ['recordMethodNotFound', 'sendError'] },
      ],
    },
    {
      path: ['handling'],
      on: {
        'call.cancel': [{ target: 4, steps: ['@stopInvoke', 'sendCancelled'] }],
        'connection.closed': [{ target: 4, steps: ['@stopInvoke'] }],
        'xstate.done.actor.0.incomingCall.handling': [{ target: 2, steps: ['@stopInvoke', 'recordResult', 'sendResult'] }],
        'xstate.error.actor.0.incomingCall.handling': [{ target: 3, steps: ['@stopInvoke', 'recordError', 'sendError'] }],
      },
    },
    { path: ['replied'], final: true },
    { path: ['failed'], final: true },
    { path: ['cancelled'], final: true },
  ],
  invoke: { id: '0.incomingCall.handling', src: 'handler', input: 'handlerInput' },
};
