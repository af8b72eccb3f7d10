/**
 * One simulated hub's device endpoint: its aedes broker (one per hub, so that a device ID is one session per hub and a
 * second connection of the same device drops the first, as IoT Hub does), what a device may publish and subscribe to,
 * and how the registry's changes reach connected devices. What is served and how refusals are answered: hub-mqtt.ts.
 */
import type { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';

// aedes 0.51: the last CommonJS line (see dps-mqtt.ts).
import { type AuthenticateError, type Client, createBroker } from 'aedes';

import { presentedChain } from './attestation';
import { type PresentedCredentials, refusalReason } from './hub-auth';
import { ConnectionLedger } from './hub-connections';
import { type CredentialContext, CredentialRequests } from './hub-credentials';
import { TwinVersions } from './hub-twin';
import { parseSas } from './sas';
import type { HubData } from './state';

export interface HubTelemetry {
  hub: string;
  deviceId: string;
  body: Buffer;
  /** The topic's property bag, decoded (`$.ct`, `$.ce`, application properties). */
  properties: Record<string, string>;
  receivedAt: string;
}

export interface EndpointContext {
  hostName: string;
  data: HubData;
  /** The hub's verified CAs, read at every CONNECT. */
  trustAnchors: () => X509Certificate[];
  /** Trust beside the verified CAs (ADR's issuing CAs), asked at every CONNECT of a CA-authenticated device. */
  trusts?: (chain: X509Certificate[]) => boolean;
  /** Certificate renewal through the hub (hub-credentials.ts); without it every renewal fails after its 202. */
  credentials?: Pick<CredentialContext, 'issue' | 'gate'>;
  telemetry: (message: HubTelemetry) => void;
  events: EventEmitter;
  changed: () => void;
  log?: (line: string) => void;
}

export interface Session {
  deviceId: string;
  /** The TLS client chain it connected with (leaf first): a renewal is answered from the leaf's issuing CA. */
  chain: X509Certificate[];
  subscriptions: Set<string>;
  expiry?: NodeJS.Timeout;
}

export interface HubEndpoint {
  broker: ReturnType<typeof createBroker>;
  /** The connected client of each device (by lower-cased ID). */
  live: Map<string, Client>;
  sessions: WeakMap<Client, Session>;
}

const CREDENTIALS_RES = '$iothub/credentials/res/#';
const API_TOPICS = [
  '$iothub/twin/res/#',
  '$iothub/twin/PATCH/properties/desired/#',
  '$iothub/methods/POST/#',
  CREDENTIALS_RES,
];

/** CONNACK 5 "not authorized", IoT Hub's answer to every refused device (hub-mqtt.ts says what is verified). */
function refused(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: 5 }) as AuthenticateError;
}

/** `a=1&%24.ct=application%2Fjson` → { a: '1', '$.ct': 'application/json' }. */
const propertyBag = (bag: string) => Object.fromEntries(new URLSearchParams(bag));

export function hubEndpoint(ctx: EndpointContext): HubEndpoint {
  const { hostName, data } = ctx;
  const hub = hostName.toLowerCase();
  const sessions = new WeakMap<Client, Session>();
  const ledger = new ConnectionLedger(data, ctx.changed);
  const twins = new TwinVersions(data);
  const credentials = new CredentialRequests({
    issue: ctx.credentials?.issue ?? (() => Promise.reject(new Error('No certificate authority issues here.'))),
    gate: ctx.credentials?.gate ?? (() => Promise.resolve()),
    respond: (deviceId, topic, body) => {
      const client = live.get(deviceId.toLowerCase());
      if (!client || !sessions.get(client)?.subscriptions.has(CREDENTIALS_RES)) return false;
      reply(client, topic, body);
      return true;
    },
  });
  const reply = (client: Client, topic: string, body: unknown) =>
    client.publish(
      {
        cmd: 'publish',
        topic,
        payload: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => undefined,
    );

  const broker = createBroker({
    authenticate: (client, username, password, done) => {
      const [userHub = '', deviceId = '', ...rest] = (username ?? '').split('/');
      const query = rest.join('/');
      let reason: string | undefined;
      if (userHub.toLowerCase() !== hub) reason = `username is not for ${hostName}`;
      else if (!deviceId || client.id !== deviceId) reason = 'the client ID must be the device ID of the username';
      else if (query.includes('/') || (query && !/^\??(api-version=|$)/.test(query)))
        reason = 'module identities are not simulated';
      else {
        const presented: PresentedCredentials = {
          sas: password?.toString('utf8') || undefined,
          chain: presentedChain(client.conn as TLSSocket),
        };
        const trust = { verifiedCas: ctx.trustAnchors(), now: new Date(), trusts: ctx.trusts };
        reason = refusalReason(hostName, deviceId, data.devices.get(deviceId.toLowerCase()), presented, trust);
        if (!reason) {
          const session: Session = { deviceId, chain: presented.chain, subscriptions: new Set() };
          if (presented.sas) session.expiry = closeAtExpiry(client, presented.sas);
          sessions.set(client, session);
          accepted(client, session);
        }
      }
      if (!reason) return done(null, true);
      ctx.log?.(`iot-sim: ${hostName} refused ${deviceId || username}: ${reason}`);
      ctx.events.emit('refused', { hub: hostName, deviceId, reason });
      done(refused(reason), false);
    },
    authorizeSubscribe: (client, subscription, callback) => {
      const session = client ? sessions.get(client) : undefined;
      const allowed = session && [...API_TOPICS, `devices/${session.deviceId}/messages/devicebound/#`];
      if (!session || !allowed?.includes(subscription.topic)) return callback(null, null as never); // SUBACK 0x80
      session.subscriptions.add(subscription.topic);
      callback(null, { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 }); // IoT Hub grants QoS 1 at most
      ctx.events.emit('subscribed', { hub: hostName, deviceId: session.deviceId, topic: subscription.topic });
      if (subscription.topic === CREDENTIALS_RES) setImmediate(() => credentials.subscribed(session.deviceId));
    },
    // An error closes the publisher's connection, which is what IoT Hub does with a topic it does not serve.
    authorizePublish: (client, packet, callback) => {
      const session = client ? sessions.get(client) : undefined;
      if (!client || !session) return callback(new Error('not connected'));
      if (packet.qos === 2) return callback(new Error('IoT Hub does not support QoS 2'));
      const [path, query = ''] = packet.topic.split('?');
      const params = new URLSearchParams(query);
      const rid = params.get('$rid') ?? '';
      const events_ = `devices/${session.deviceId}/messages/events/`;
      if (path.startsWith(events_)) {
        const message: HubTelemetry = {
          hub: hostName,
          deviceId: session.deviceId,
          body: Buffer.from(packet.payload),
          properties: propertyBag(path.slice(events_.length)),
          receivedAt: new Date().toISOString(),
        };
        ledger.active(session.deviceId);
        ctx.telemetry(message);
        return callback(null);
      }
      if (path === '$iothub/twin/GET/') {
        ledger.active(session.deviceId);
        const body = twins.properties(session.deviceId);
        reply(client, `$iothub/twin/res/${body ? 200 : 404}/?$rid=${rid}`, body);
        return callback(null);
      }
      if (path === '$iothub/twin/PATCH/properties/reported/') {
        ledger.active(session.deviceId);
        let patch: unknown;
        try {
          patch = JSON.parse(packet.payload.toString() || 'null');
        } catch {
          patch = undefined;
        }
        if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
          reply(client, `$iothub/twin/res/400/?$rid=${rid}`, undefined);
          return callback(null);
        }
        const version = twins.reportPatch(session.deviceId, patch as Record<string, unknown>);
        ctx.changed();
        reply(client, `$iothub/twin/res/${version ? 204 : 404}/?$rid=${rid}&$version=${version ?? 0}`, undefined);
        return callback(null);
      }
      if (path === '$iothub/credentials/POST/issueCertificate/') {
        ledger.active(session.deviceId);
        credentials.request(session.deviceId, session.chain, params.get('$rid'), Buffer.from(packet.payload));
        return callback(null);
      }
      if (path.startsWith('$iothub/methods/res/')) return callback(null); // no direct method is ever invoked here
      callback(new Error(`${packet.topic} is not a topic IoT Hub serves to ${session.deviceId}`));
    },
  });

  const live = new Map<string, Client>();
  /**
   * Connected from the moment the hub accepts CONNECT (before CONNACK is written, so a client that has its CONNACK
   * already reads `Connected`), until its socket closes, whoever closed it.
   */
  function accepted(client: Client, session: Session): void {
    const key = session.deviceId.toLowerCase();
    live.set(key, client);
    ledger.connected(session.deviceId);
    ctx.events.emit('connected', { hub: hostName, deviceId: session.deviceId });
    client.conn.once('close', () => {
      clearTimeout(session.expiry);
      ended(client, session);
    });
  }

  /** Disconnected, once: when its socket closes, or at once when the hub itself drops it. */
  function ended(client: Client, session: Session): void {
    const key = session.deviceId.toLowerCase();
    if (live.get(key) !== client) return; // already ended, or replaced by a newer connection of the same device
    live.delete(key);
    ledger.disconnected(session.deviceId);
    ctx.events.emit('disconnected', { hub: hostName, deviceId: session.deviceId });
  }

  /** The registry shows the device Disconnected before its socket is gone, so a caller reads it right away. */
  function drop(deviceId: string): void {
    const client = live.get(deviceId.toLowerCase());
    const session = client && sessions.get(client);
    if (!client || !session) return;
    ended(client, session);
    client.close();
  }

  /** IoT Hub ends a connection whose SAS token expires; the SDKs renew before that by reconnecting. */
  function closeAtExpiry(client: Client, sas: string): NodeJS.Timeout | undefined {
    const ms = parseSas(sas).se * 1000 - Date.now();
    return setTimeout(() => client.close(), Math.min(Math.max(ms, 0), 2 ** 31 - 1)).unref();
  }

  data.watch = {
    device: (deviceId, device) => {
      ledger.mirror(deviceId);
      if (!device) twins.forget(deviceId);
      if (!device || device.status === 'disabled') drop(deviceId);
    },
    desired: (deviceId, patch) => {
      const body = twins.desiredPatched(deviceId, patch);
      const client = live.get(deviceId.toLowerCase());
      const session = client && sessions.get(client);
      if (client && session?.subscriptions.has('$iothub/twin/PATCH/properties/desired/#'))
        reply(client, `$iothub/twin/PATCH/properties/desired/?$version=${body.$version as number}`, body);
    },
  };

  ledger.resetAfterRestart();
  return { broker, live, sessions };
}
