/**
 * Puts a fault on one request of an HTTP(S) server, the simulator's or a proxy's: `handle` is what the server would
 * do (route it, or forward it), `answer` sends an error in the service's shape. On the wire, a reset is the socket
 * destroyed (the client sees ECONNRESET or "socket hang up"), a stall is a request that is never answered (or whose
 * answer stops after its first bytes).
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

/** Lets the handler's headers and the first `bytes` bytes of its body through, then nothing: the answer stops. */
function cutAnswer(res: ServerResponse, bytes: number): void {
  let left = bytes;
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  res.write = ((chunk: unknown) => {
    const all = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    const part = all.subarray(0, Math.max(0, left));
    left -= part.length;
    if (part.length) write(part);
    // Said to be written, so the handler (a piped answer) goes on and its end is held below.
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown) => {
    if (chunk !== undefined && typeof chunk !== 'function') res.write(chunk as Buffer);
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
      if (fault.afterBytes !== undefined) {
        cutAnswer(res, fault.afterBytes);
        handle();
      } else if (fault.afterApply) {
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
