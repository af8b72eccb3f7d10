/**
 * DPS's device API over MQTT (api-version 2019-03-31), as `azure-iot-provisioning-device-mqtt` and the C SDK speak
 * it, on an aedes broker behind TLS: the client connects with username `{idScope}/registrations/{registrationId}/
 * api-version=…`, its SAS as the password or its X.509 certificate in TLS; subscribes to `$dps/registrations/res/#`;
 * publishes `$dps/registrations/PUT/iotdps-register/?$rid={rid}` and
 * `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={id}`; and gets each answer, to itself
 * only, on `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`. The registration itself is the HTTP
 * API's (dps-device.ts). TPM attestation is refused, as DPS refuses it over MQTT. A device publishes nothing but those
 * two requests: anything else (a forged answer on `res/…` for another device to receive, a will message) is refused,
 * which in MQTT 3.1.1 means the connection is closed (MQTT-3.3.5-2).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

// aedes 0.51: the last CommonJS line (1.x is ESM-only, which this CommonJS build and jest cannot `require`).
import { type AuthenticateError, type Client, createBroker } from 'aedes';

import {
  type DeviceAnswer,
  type DeviceCredentials,
  type DeviceSideContext,
  operationStatus,
  presentedChain,
  type RegisterBody,
  startRegistration,
} from './dps-device';
import type { MqttFront } from './mqtt-front';
import { apiVersionProblem, HttpError } from './wire';

export interface RunningMqtt {
  port: number;
  close(): Promise<void>;
}

const USERNAME = /^([^/]+)\/registrations\/([^/]+)\/api-version=([^&]+)/;
const RESPONSES = '$dps/registrations/res/#';
const REGISTER = '$dps/registrations/PUT/iotdps-register/';
const STATUS = '$dps/registrations/GET/iotdps-get-operationstatus/';

type DpsRequest = { kind: 'register'; rid: string } | { kind: 'status'; rid: string; operationId: string };

/** One of the two requests DPS accepts from a device, with the parameters it needs; undefined for any other topic. */
function requestOf(topic: string): DpsRequest | undefined {
  const [path, query = ''] = topic.split('?');
  const params = new URLSearchParams(query);
  const rid = params.get('$rid');
  const operationId = params.get('operationId');
  if (!rid) return undefined;
  if (path === REGISTER) return { kind: 'register', rid };
  if (path === STATUS && operationId) return { kind: 'status', rid, operationId };
  return undefined;
}

interface Session {
  registrationId: string;
  /** From the username: a `csr` is taken under an api-version that knows it (2026-11-01). */
  apiVersion: string;
  credentials: DeviceCredentials;
}

function refused(message: string, code: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code }) as AuthenticateError;
}

export async function startDpsMqtt(
  ctx: DeviceSideContext,
  options: {
    tls: { cert: string; key: string };
    host?: string;
    port?: number;
    log?: (line: string) => void;
    /** The listener shared with the hubs (mqtt-front.ts): DPS takes what no hub claims. Absent: a listener of its own. */
    front?: MqttFront;
  },
): Promise<RunningMqtt> {
  const sessions = new WeakMap<Client, Session>();
  const broker = createBroker({
    authenticate: (client, username, password, done) => {
      const m = USERNAME.exec(username ?? '');
      if (!m) return done(refused('username must be {idScope}/registrations/{registrationId}/api-version=…', 4), false);
      if (m[1] !== ctx.idScope) return done(refused(`unknown ID scope ${m[1]}`, 5), false);
      const versionProblem = apiVersionProblem(decodeURIComponent(m[3]));
      if (versionProblem) return done(refused(versionProblem, 4), false);
      const chain = presentedChain(client.conn as TLSSocket);
      const sas = password?.toString('utf8');
      if (!sas && chain.length === 0) return done(refused('no SAS password and no client certificate', 5), false);
      sessions.set(client, {
        registrationId: decodeURIComponent(m[2]),
        apiVersion: decodeURIComponent(m[3]),
        credentials: { sas, chain },
      });
      done(null, true);
    },
    // A device listens for its own answers only; nothing else may be subscribed to.
    authorizeSubscribe: (_client, subscription, callback) =>
      callback(
        subscription.topic === RESPONSES ? null : new Error(`only ${RESPONSES} may be subscribed`),
        subscription,
      ),
    // Only the two requests, from an authenticated device; an error closes the publisher's connection.
    authorizePublish: (client, packet, callback) => {
      const session = client ? sessions.get(client) : undefined;
      const request = requestOf(packet.topic);
      if (!client || !session || !request)
        return callback(new Error(`${packet.topic}: a device may publish only DPS's register and status requests`));
      void answer(client, session, request, packet.payload);
      callback(null); // no one can subscribe to a request topic: the message goes nowhere else
    },
  });

  function reply(client: Client, rid: string, a: DeviceAnswer): void {
    const retry = a.retryAfterSeconds ? `&retry-after=${a.retryAfterSeconds}` : '';
    client.publish(
      {
        cmd: 'publish',
        topic: `$dps/registrations/res/${a.status}/?$rid=${rid}${retry}`,
        payload: Buffer.from(JSON.stringify(a.body)),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => undefined,
    );
  }

  async function answer(
    client: Client,
    session: Session,
    request: DpsRequest,
    payload: Buffer | string,
  ): Promise<void> {
    const { rid } = request;
    try {
      if (request.kind === 'register') {
        const body = JSON.parse(payload.toString() || '{}') as RegisterBody;
        if (body.tpm) throw new HttpError(400, 400004, 'TPM attestation is not supported over MQTT; use HTTPS.');
        const { registrationId, credentials, apiVersion } = session;
        return reply(client, rid, await startRegistration(ctx, credentials, registrationId, body, apiVersion));
      }
      return reply(client, rid, operationStatus(ctx, session.credentials, session.registrationId, request.operationId));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 500000, String(err));
      if (e.status === 500) options.log?.(`dps-mqtt: ${request.kind} failed: ${String(err)}`);
      reply(client, rid, {
        status: e.status,
        body: {
          errorCode: e.code,
          trackingId: randomUUID(),
          message: e.message,
          timestampUtc: new Date().toISOString(),
        },
        ...(e.status === 429 ? { retryAfterSeconds: Number(e.headers['retry-after'] ?? 1) } : {}),
      });
    }
  }

  if (options.front) {
    options.front.setFallback(broker.handle);
    return { port: options.front.port, close: () => new Promise<void>((resolve) => broker.close(() => resolve())) };
  }
  const server = createServer(
    { cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: false },
    broker.handle,
  );
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
