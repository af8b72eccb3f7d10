/**
 * The one MQTT-over-TLS listener (8883 under `npm start`) that DPS's device API and every simulated hub share, as a
 * device reaches both through one gateway host name locally. TLS ends here (the client certificate, if any, stays
 * on the socket); the first packet, CONNECT, is read to learn who the client wants: a hub when the username's first
 * segment is one of the hubs' host names (`{hub}/{deviceId}/?api-version=…`), DPS otherwise
 * (`{idScope}/registrations/{registrationId}/api-version=…`). The bytes read are put back and the socket handed,
 * untouched, to that service's broker, which answers CONNECT itself.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

import { type IPacket, parser as mqttParser } from 'mqtt-packet';

export type MqttHandler = (socket: TLSSocket) => void;
/** A service's claim on a connection by its CONNECT username; undefined when the username is not that service's. */
export type MqttRoute = (username: string) => MqttHandler | undefined;

export interface MqttFront {
  port: number;
  /** Routes are asked in the order they were added. */
  addRoute(route: MqttRoute): void;
  /** Who gets a connection no route claims (DPS: it refuses a username it cannot read, as before the hubs came). */
  setFallback(handler: MqttHandler): void;
  close(): Promise<void>;
}

/** A client that never completes CONNECT is dropped, as brokers do; generous so that no slow machine trips it. */
const CONNECT_WITHIN_MS = 60_000;

export async function startMqttFront(options: {
  tls: { cert: string; key: string };
  host?: string;
  port?: number;
}): Promise<MqttFront> {
  const routes: MqttRoute[] = [];
  let fallback: MqttHandler | undefined;
  const sockets = new Set<TLSSocket>();

  const dispatch = (socket: TLSSocket, username: string) => {
    for (const route of routes) {
      const handler = route(username);
      if (handler) return handler(socket);
    }
    if (fallback) return fallback(socket);
    socket.destroy();
  };

  // `requestCert` without `rejectUnauthorized`: a device certificate is checked by the service it is for (DPS
  // against its enrollments, a hub against its registry), not by a CA list at the TLS layer.
  const server = createServer(
    { cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const chunks: Buffer[] = [];
      const parser = mqttParser({ protocolVersion: 4 });
      let decided = false;
      const timer = setTimeout(() => socket.destroy(), CONNECT_WITHIN_MS);
      const decide = (username: string | undefined) => {
        decided = true;
        clearTimeout(timer);
        socket.removeListener('readable', onReadable);
        socket.unshift(Buffer.concat(chunks));
        // Handed on the next tick, out of this 'readable' event, so the broker starts reading a quiet stream.
        setImmediate(() => (username === undefined ? socket.destroy() : dispatch(socket, username)));
      };
      parser.once('packet', (packet: IPacket) =>
        decide(packet.cmd === 'connect' ? ((packet as { username?: string }).username ?? '') : undefined),
      );
      parser.once('error', () => decide(undefined));
      const onReadable = () => {
        let chunk: Buffer | null;
        while (!decided && (chunk = socket.read() as Buffer | null) !== null) {
          chunks.push(chunk);
          parser.parse(chunk);
        }
      };
      socket.on('readable', onReadable);
      socket.once('close', () => clearTimeout(timer));
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  return {
    port: (server.address() as AddressInfo).port,
    addRoute: (route) => void routes.push(route),
    setFallback: (handler) => void (fallback = handler),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
