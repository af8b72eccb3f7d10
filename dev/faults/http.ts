/**
 * Puts a fault on one request of an HTTP(S) server, the simulator's or a proxy's: `handle` is what the server would
 * do (route it, or forward it), `answer` sends an error in the service's shape. On the wire, a reset is the socket
 * destroyed (the client sees ECONNRESET or "socket hang up"), a stall is a request that is never answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Fault } from './plan';

export type StatusFault = Extract<Fault, { kind: 'status' }>;

/** Keeps the handler's answer from the client: headers and body are dropped, and then the socket, if `reset`. */
function dropAnswer(res: ServerResponse, reset: boolean): void {
  res.writeHead = (() => res) as unknown as ServerResponse['writeHead'];
  res.write = (() => true) as ServerResponse['write'];
  res.end = (() => {
    if (reset) res.socket?.destroy();
    return res;
  }) as ServerResponse['end'];
}

export function applyFault(
  fault: Fault | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  handle: () => void,
  answer: (fault: StatusFault) => void,
): void {
  switch (fault?.kind) {
    case undefined:
      return handle();
    case 'status':
      // The request's body is read first so the connection stays usable for the client's retry (keep-alive).
      req.resume();
      req.once('end', () => answer(fault));
      return;
    case 'resetBeforeApply':
    case 'down':
      req.socket.destroy();
      return;
    case 'resetAfterApply':
      dropAnswer(res, true);
      return handle();
    case 'stall':
      // Nothing more happens until the client gives up and closes, or the server closes all connections.
      if (fault.afterApply) {
        dropAnswer(res, false);
        handle();
      } else req.resume();
      return;
    case 'latency': {
      const gone = () => clearTimeout(timer);
      const timer = setTimeout(() => {
        req.socket.off('close', gone);
        if (!req.socket.destroyed) handle();
      }, fault.ms);
      req.socket.once('close', gone);
      return;
    }
  }
}

/** `Retry-After` in whole seconds (rounded up), as DPS, IoT Hub and Storage send it. */
export function retryAfterHeader(fault: StatusFault): Record<string, string> {
  return fault.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(fault.retryAfterMs / 1000)) };
}
