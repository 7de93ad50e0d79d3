// Generated from machines/connection.machine.ts by scripts/generate-tables.ts (npm run generate:tables): do not edit.
// Names refer to machines/connection.logic.ts and to what the owner provides.
import type { MachineTable } from '../table.js';

export const connectionTable: MachineTable = {
  id: 'connection',
  context: 'context',
  initial: { target: 0, steps: ['beginEpoch', 'openTransport'] },
  states: [
    {
      path: ['connecting', 'opening'],
      on: {
        'transport.opened': [{ target: 2, steps: ['reportOpen'] }],
        'transport.closed': [
          { target: 1, steps: ['recordClose', 'planReconnect', 'reportReconnecting', '@timer'], guard: 'mayReconnect' },
          { target: 4, steps: ['recordClose', 'reportClosing', 'reportClosed'] },
        ],
        'transport.error': [{ target: 0, steps: ['recordError'] }],
        'connection.close': [{ target: 3, steps: ['markClosedLocally', 'reportClosing', 'closeTransport'] }],
      },
      always: [{ target: 2, steps: ['reportOpen'], guard: 'isAlreadyOpen' }],
    },
    {
      path: ['connecting', 'waiting'],
      on: {
        'connection.close': [
          { target: 4, steps: ['@cancelTimer', 'markClosedLocally', 'reportClosing', 'reportClosed'] },
          { target: 3, steps: ['@cancelTimer', 'markClosedLocally', 'reportClosing', 'closeTransport'] },
        ],
        'reconnect.now': [{ target: 0, steps: ['@cancelTimer', 'beginEpoch', 'openTransport'] }],
        'xstate.after.reconnectDelay.connection.connecting.waiting': [
          { target: 0, steps: ['@cancelTimer', 'beginEpoch', 'openTransport'] },
        ],
        'transport.error': [{ target: 1, steps: ['recordError'] }],
      },
    },
    {
      path: ['open'],
      on: {
        'message.received': [{ target: 2, steps: ['dispatchMessage'] }],
        'transport.closed': [
          { target: 1, steps: ['recordClose', 'planReconnect', 'reportLoss', 'reportReconnecting', '@timer'], guard: 'mayReconnect' },
          { target: 4, steps: ['recordClose', 'reportClosing', 'reportClosed'] },
        ],
        'transport.error': [{ target: 2, steps: ['recordError'] }],
        'connection.close': [{ target: 3, steps: ['markClosedLocally', 'reportClosing', 'closeTransport'] }],
      },
    },
    {
      path: ['closing'],
      on: {
        'message.received': [{ target: 3, steps: ['dispatchMessage'] }],
        'transport.closed': [{ target: 4, steps: ['recordClose', 'reportClosing', 'reportClosed'] }],
        'transport.error': [{ target: 3, steps: ['recordError'] }],
      },
    },
    { path: ['closed'], final: true },
  ],
  timer: { event: 'xstate.after.reconnectDelay.connection.connecting.waiting', delay: 'reconnectDelay' },
};
