/**
 * A fault proxy in front of a service the stack does not write itself (the embedded Cosmos server, Azurite): an
 * HTTP(S) server on loopback that forwards each request to the service and puts the plan's faults on it. It ends
 * TLS itself (with the local CA's certificate, which the clients already trust), so it sees operations, not only
 * bytes: a rule can name `read` or `sendMessage`, and a status fault answers in the service's shape.
 *
 * Why our own and not a library: the proxy must hold the service's answer and then drop the connection instead
 * (`resetAfterApply`), answer for the service, and refuse connections during an outage on the stack's clock. A
 * TCP proxy (toxiproxy) sees no operations and needs a server binary; `http-proxy` (last release 2020) or
 * `http-proxy-3` would still leave every fault to us around their forwarding, which is the forty lines below.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

import { applyFault, type StatusFault } from './http';
import type { FaultCall, FaultInjector } from './injector';
import type { FaultService } from './plan';

export interface FaultProxyOptions {
  service: FaultService;
  injector: FaultInjector;
  /** The service behind the proxy, on loopback; `ca` given: it speaks TLS. */
  upstream: { port: number; ca?: string };
  /** Serve TLS with this certificate (the service's own, so clients see no difference). */
  tls?: { cert: string; key: string };
  port?: number;
  describe: (req: http.IncomingMessage) => FaultCall;
  answer: (res: http.ServerResponse, fault: StatusFault) => void;
}

export interface RunningFaultProxy {
  port: number;
  close(): Promise<void>;
}

/** Headers about one hop's connection, not the request: each side of the proxy keeps its own. */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const { connection: _c, 'keep-alive': _k, ...rest } = headers;
  return rest;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<RunningFaultProxy> {
  const { upstream } = options;
  const secure = upstream.ca !== undefined;
  const agent = secure ? new https.Agent({ keepAlive: true, ca: upstream.ca }) : new http.Agent({ keepAlive: true });

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const outgoing = (secure ? https : http).request(
      {
        host: '127.0.0.1',
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    // The service dropped or refused us: the client's connection drops too, as it would without the proxy.
    outgoing.once('error', () => req.socket.destroy());
    req.pipe(outgoing);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) =>
    applyFault(
      options.injector.decide(options.describe(req)),
      req,
      res,
      () => forward(req, res),
      (f) => options.answer(res, f),
    );
  const server = options.tls
    ? https.createServer({ ...options.tls, keepAlive: true }, onRequest)
    : http.createServer({ keepAlive: true }, onRequest);
  // A whole-service outage refuses connections as they arrive (before TLS), as an unreachable endpoint would.
  server.on('connection', (socket) => {
    if (options.injector.refuseConnection(options.service)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve),
  );
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
