/**
 * A request body as the host hands it to a handler, and what is left of it after the handler answered. A handler may
 * answer before reading the whole body (a 413 at the limit, a 401): HTTP/1.1 then needs the rest read off the
 * connection before the next request on it can be parsed, or the answer must say `Connection: close`. Answering
 * `keep-alive` over a half-read body leaves the client's next call on that connection hanging until it is reset.
 */
import type * as http from 'node:http';
import { PassThrough, Readable } from 'node:stream';

/** The most the host reads and throws away to keep a connection open; past it, the connection is closed. */
export const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * The body as a web stream, through a PassThrough: a handler cancelling its stream destroys only the PassThrough,
 * not the request (destroying an unfinished request destroys its socket before any answer is written).
 */
export function bodyStream(req: http.IncomingMessage): ReadableStream {
  return Readable.toWeb(req.pipe(new PassThrough())) as ReadableStream;
}

/**
 * Reads and discards what the handler left of the body. True when the body ended (the connection can carry the next
 * request); false when it is longer than `limit` or broke off, and the answer must close the connection.
 */
export function drainUnread(req: http.IncomingMessage, limit = DRAIN_LIMIT_BYTES): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  req.unpipe();
  return new Promise((resolve) => {
    let read = 0;
    const finish = (ended: boolean) => {
      req.off('data', onData).off('end', onEnd).off('error', onBroken).off('close', onBroken);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > limit) finish(false);
    };
    const onEnd = () => finish(true);
    const onBroken = () => finish(req.complete);
    req.on('data', onData).once('end', onEnd).once('error', onBroken).once('close', onBroken);
    req.resume();
  });
}
