// Generated from machines/call.machine.ts by scripts/generate-tables.ts (npm run generate:tables): do not edit.
// Names refer to machines/call.logic.ts and to what the owner provides.
import type { MachineTable } from '../table.js';

export const callTable: MachineTable = {
  id: 'call',
  context: 'context',
  output: 'output',
  initial: { target: 0, steps: ['@timer'] },
  states: [
    {
      path: ['pending', 'queued'],
      on: {
        'call.release': [{ target: 1, steps: ['writeRequest'] }],
        'call.cancel': [{ target: 6, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'cancelled' }]] }],
        'connection.closed': [{ target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] }],
        'xstate.after.callTimeout.call.pending': [
          { target: 5, steps: ['@cancelTimer', ['settleCaller', { status: 'timedOut' }]], guard: { in: [0] } },
          { target: 5, steps: ['@cancelTimer', 'notifyPeerOfCancel', ['settleCaller', { status: 'timedOut' }]] },
        ],
      },
      always: [{ target: 1, steps: ['writeRequest'], guard: 'mayBeSentNow' }],
    },
    {
      path: ['pending', 'inFlight', 'sent'],
      on: {
        'request.written': [{ target: 2, steps: [] }],
        'request.writeFailed': [
          { target: 0, steps: ['holdForRelease'], guard: 'mayRetry' },
          { target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] },
        ],
        'connection.lost': [
          { target: 0, steps: ['holdForRelease'], guard: 'mayRetry' },
          { target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] },
        ],
        'response.result': [{ target: 3, steps: ['@cancelTimer', 'recordResult', ['settleCaller', { status: 'resolved' }]] }],
        'response.error': [{ target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] }],
        'call.cancel': [
          { target: 6, steps: ['@cancelTimer', 'recordError', 'notifyPeerOfCancel', ['settleCaller', { status: 'cancelled' }]] },
        ],
        'connection.closed': [{ target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] }],
        'xstate.after.callTimeout.call.pending': [
          { target: 5, steps: ['@cancelTimer', ['settleCaller', { status: 'timedOut' }]], guard: { in: [0] } },
          { target: 5, steps: ['@cancelTimer', 'notifyPeerOfCancel', ['settleCaller', { status: 'timedOut' }]] },
        ],
      },
    },
    {
      path: ['pending', 'inFlight', 'awaiting'],
      on: {
        'connection.lost': [
          { target: 0, steps: ['holdForRelease'], guard: 'mayRetry' },
          { target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] },
        ],
        'response.result': [{ target: 3, steps: ['@cancelTimer', 'recordResult', ['settleCaller', { status: 'resolved' }]] }],
        'response.error': [{ target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] }],
        'call.cancel': [
          { target: 6, steps: ['@cancelTimer', 'recordError', 'notifyPeerOfCancel', ['settleCaller', { status: 'cancelled' }]] },
        ],
        'connection.closed': [{ target: 4, steps: ['@cancelTimer', 'recordError', ['settleCaller', { status: 'failed' }]] }],
        'xstate.after.callTimeout.call.pending': [
          { target: 5, steps: ['@cancelTimer', ['settleCaller', { status: 'timedOut' }]], guard: { in: [0] } },
          { target: 5, steps: ['@cancelTimer', 'notifyPeerOfCancel', ['settleCaller', { status: 'timedOut' }]] },
        ],
      },
    },
    { path: ['resolved'], final: true, output: 'resolvedOutput' },
    { path: ['failed'], final: true, output: 'failedOutput' },
    { path: ['timedOut'], final: true, output: 'timedOutOutput' },
    { path: ['cancelled'], final: true, output: 'cancelledOutput' },
  ],
  timer: { event: 'xstate.after.callTimeout.call.pending', delay: 'callTimeout' },
};
