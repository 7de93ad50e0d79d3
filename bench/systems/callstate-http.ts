/**
 * callstate over HTTP POST (issue 13): `serve()` answering JSON-RPC over HTTP on
 * its port, `connect(server.httpUrl)` (fetch, one POST per call), from the BUILT package.
 */
import { callstateSystem } from './callstate.js';

export const system = callstateSystem('httpUrl');
