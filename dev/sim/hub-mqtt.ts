/**
 * The simulated hubs' device endpoint over MQTT 3.1.1 + TLS, as IoT Hub documents it (MicrosoftDocs/azure-docs
 * `articles/iot/iot-mqtt-connect-to-iot-hub.md`) and `azure-iot-device-mqtt` speaks it: client ID = device ID, username
 * `{hub}/{deviceId}/?api-version=…&DeviceClientType=…`, a SAS token as the password or an X.509 client certificate
 * (hub-auth.ts). One aedes broker per hub, so that a device ID is one session per hub: a second connection for the same
 * device drops the first, as IoT Hub does. Served: telemetry on `devices/{id}/messages/events/{property-bag}`, twin
 * GET and reported PATCH answered on `$iothub/twin/res/{status}/?$rid=…`, desired-property updates pushed on
 * `$iothub/twin/PATCH/properties/desired/?$version=…`, cloud-to-device messages when a test sends one. Anything else
 * published (another device's topic, QoS 2) closes the connection, as IoT Hub does; other subscriptions get 0x80.
 *
 * Refusals are CONNACK 5 "not authorized": what IoT Hub answers for a wrong SAS token and an unknown device ID (public
 * reports: Azure/azure-iot-sdk-c#373, azure-iot-cli-extension#80, azure-docs#38897), and what the C SDK reads as
 * "device disabled" (`iothubtransport_mqtt_common.c`: 5 → IOTHUB_CLIENT_CONNECTION_DEVICE_DISABLED). A device disabled
 * or deleted while connected is disconnected at once, whatever changed the registry (hub-watch in state.ts): the
 * network connection closes without a packet, as MQTT 3.1.1 gives a server no other way (Azure/azure-iot-sdk-c#2300).
 */
import type { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';

// aedes 0.51: the last CommonJS line (see dps-mqtt.ts).
import { type AuthenticateError, type Client, createBroker } from 'aedes';

import { presentedChain } from './attestation';
import { parseCertificate } from './certificates';
import { type PresentedCredentials, refusalReason } from './hub-auth';
import { ConnectionLedger } from './hub-connections';
import { TwinVersions } from './hub-twin';
import type { MqttFront } from './mqtt-front';
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

/** What tests (and the demo) see of the devices on the hubs. */
export interface HubDevices {
  /**
   * `telemetry` (HubTelemetry), `connected` / `disconnected` ({ hub, deviceId }), `refused` ({ hub, deviceId, reason }),
   * `subscribed` ({ hub, deviceId, topic }).
   */
  events: EventEmitter;
  /** Telemetry a hub received, oldest first (the last 10,000 a hub). */
  received(hostName: string, deviceId?: string): HubTelemetry[];
  /** The device IDs connected to a hub now. */
  connected(hostName: string): string[];
  /** Replaces a hub's verified CA certificates (PEM), as uploading and verifying them in the portal does. */
  setVerifiedCas(hostName: string, pems: string[]): void;
  /** A cloud-to-device message to a connected device subscribed to its C2D topic; false when it is not. */
  sendToDevice(hostName: string, deviceId: string, body: string | Buffer, properties?: Record<string, string>): boolean;
  close(): Promise<void>;
}

export interface HubMqttOptions {
  hubs: Array<{ hostName: string; data: HubData; verifiedCas?: string[] }>;
  front: MqttFront;
  /** Called after a change worth keeping in a snapshot (connection state, reported properties). */
  changed: () => void;
  /**
   * Hook for issued certificates (Azure Device Registry, DPS 2026-11-01): more trust anchors for a hub, e.g. the
   * namespace's issuing CAs. Consulted on every CONNECT, so a rotation takes effect for the next connection.
   */
  extraTrustAnchors?: (hostName: string) => X509Certificate[];
  log?: (line: string) => void;
}

const KEEP = 10_000;
const API_TOPICS = ['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#'];

interface Session {
  deviceId: string;
  subscriptions: Set<string>;
  expiry?: NodeJS.Timeout;
}

function refused(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: 5 }) as AuthenticateError;
}

/** `a=1&%24.ct=application%2Fjson` → { a: '1', '$.ct': 'application/json' }. */
const propertyBag = (bag: string) => Object.fromEntries(new URLSearchParams(bag));

export function startHubMqtt(options: HubMqttOptions): HubDevices {
  const events = new EventEmitter();
  const received = new Map<string, HubTelemetry[]>();
  const verifiedCas = new Map<string, X509Certificate[]>();
  const endpoints = new Map<string, ReturnType<typeof hubEndpoint>>();

  function hubEndpoint(hostName: string, data: HubData) {
    const hub = hostName.toLowerCase();
    const sessions = new WeakMap<Client, Session>();
    const ledger = new ConnectionLedger(data, options.changed);
    const twins = new TwinVersions(data);
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
          const trust = {
            verifiedCas: [...(verifiedCas.get(hub) ?? []), ...(options.extraTrustAnchors?.(hostName) ?? [])],
            now: new Date(),
          };
          reason = refusalReason(hostName, deviceId, data.devices.get(deviceId.toLowerCase()), presented, trust);
          if (!reason) {
            const session: Session = { deviceId, subscriptions: new Set() };
            if (presented.sas) session.expiry = closeAtExpiry(client, presented.sas);
            sessions.set(client, session);
            accepted(client, session);
          }
        }
        if (!reason) return done(null, true);
        options.log?.(`iot-sim: ${hostName} refused ${deviceId || username}: ${reason}`);
        events.emit('refused', { hub: hostName, deviceId, reason });
        done(refused(reason), false);
      },
      authorizeSubscribe: (client, subscription, callback) => {
        const session = client ? sessions.get(client) : undefined;
        const allowed = session && [...API_TOPICS, `devices/${session.deviceId}/messages/devicebound/#`];
        if (!session || !allowed?.includes(subscription.topic)) return callback(null, null as never); // SUBACK 0x80
        session.subscriptions.add(subscription.topic);
        callback(null, { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 }); // IoT Hub grants QoS 1 at most
        events.emit('subscribed', { hub: hostName, deviceId: session.deviceId, topic: subscription.topic });
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
          const list = received.get(hub) ?? (received.set(hub, []), received.get(hub) as HubTelemetry[]);
          if (list.push(message) > KEEP) list.shift();
          ledger.active(session.deviceId);
          events.emit('telemetry', message);
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
          options.changed();
          reply(client, `$iothub/twin/res/${version ? 204 : 404}/?$rid=${rid}&$version=${version ?? 0}`, undefined);
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
      events.emit('connected', { hub: hostName, deviceId: session.deviceId });
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
      events.emit('disconnected', { hub: hostName, deviceId: session.deviceId });
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

  for (const h of options.hubs) {
    endpoints.set(h.hostName.toLowerCase(), hubEndpoint(h.hostName, h.data));
    verifiedCas.set(h.hostName.toLowerCase(), (h.verifiedCas ?? []).map(parseCertificate));
  }
  options.front.addRoute((username) => endpoints.get(username.split('/')[0].toLowerCase())?.broker.handle);

  return {
    events,
    received: (hostName, deviceId) =>
      (received.get(hostName.toLowerCase()) ?? []).filter((m) => !deviceId || m.deviceId === deviceId),
    connected: (hostName) => [...(endpoints.get(hostName.toLowerCase())?.live.values() ?? [])].map((c) => c.id),
    setVerifiedCas: (hostName, pems) => void verifiedCas.set(hostName.toLowerCase(), pems.map(parseCertificate)),
    sendToDevice: (hostName, deviceId, body, properties = {}) => {
      const endpoint = endpoints.get(hostName.toLowerCase());
      const client = endpoint?.live.get(deviceId.toLowerCase());
      const session = client && endpoint?.sessions.get(client);
      const topic = `devices/${deviceId}/messages/devicebound/#`;
      if (!client || !session?.subscriptions.has(topic)) return false;
      const bag = new URLSearchParams(properties).toString();
      client.publish(
        {
          cmd: 'publish',
          topic: `devices/${deviceId}/messages/devicebound/${bag}`,
          payload: Buffer.from(body),
          qos: 1,
          retain: false,
          dup: false,
        },
        () => undefined,
      );
      return true;
    },
    close: async () => {
      for (const { broker } of endpoints.values()) await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
