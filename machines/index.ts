export * from './call.machine.js';
export * from './connection.machine.js';
export * from './incomingCall.machine.js';
