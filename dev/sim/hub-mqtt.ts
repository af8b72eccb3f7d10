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

import { parseCertificate } from './certificates';
import { type HubEndpoint, hubEndpoint, type HubTelemetry } from './hub-endpoint';
import type { MqttFront } from './mqtt-front';
import type { HubData } from './state';

export type { HubTelemetry } from './hub-endpoint';

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
  /**
   * Holds every hub's certificate renewals after their 202 until the returned function is called, so a test sees an
   * operation in flight whatever the machine's speed.
   */
  holdRenewals(): () => void;
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
   * Issued certificates (Azure Device Registry, DPS 2026-11-01): whether a hub trusts a chain through ADR's credential
   * sync (the local ADR's `hubTrusts`). Asked on every CONNECT, so a rotation takes effect for the next connection.
   */
  extraTrust?: (hostName: string, chain: X509Certificate[]) => boolean;
  /** Renewal through the hub: the new chain from the device's ADR policy (the local ADR's `renew`). */
  renew?: (hostName: string, deviceId: string, presented: X509Certificate[], csr: string) => Promise<Buffer[]>;
  log?: (line: string) => void;
}

const KEEP = 10_000;

export function startHubMqtt(options: HubMqttOptions): HubDevices {
  const events = new EventEmitter();
  const received = new Map<string, HubTelemetry[]>();
  const verifiedCas = new Map<string, X509Certificate[]>();
  const endpoints = new Map<string, HubEndpoint>();
  let held: Promise<void> = Promise.resolve();

  for (const h of options.hubs) {
    const hub = h.hostName.toLowerCase();
    verifiedCas.set(hub, (h.verifiedCas ?? []).map(parseCertificate));
    const endpoint = hubEndpoint({
      hostName: h.hostName,
      data: h.data,
      trustAnchors: () => verifiedCas.get(hub) ?? [],
      trusts: options.extraTrust && ((chain) => options.extraTrust?.(h.hostName, chain) ?? false),
      credentials: options.renew && {
        issue: (deviceId, presented, csr) =>
          options.renew?.(h.hostName, deviceId, presented, csr) ?? Promise.reject(new Error('no issuer')),
        gate: () => held,
      },
      telemetry: (message) => {
        const list = received.get(hub) ?? (received.set(hub, []), received.get(hub) as HubTelemetry[]);
        if (list.push(message) > KEEP) list.shift();
        events.emit('telemetry', message);
      },
      events,
      changed: options.changed,
      log: options.log,
    });
    endpoints.set(hub, endpoint);
  }
  options.front.addRoute((username) => endpoints.get(username.split('/')[0].toLowerCase())?.broker.handle);

  return {
    events,
    received: (hostName, deviceId) =>
      (received.get(hostName.toLowerCase()) ?? []).filter((m) => !deviceId || m.deviceId === deviceId),
    connected: (hostName) => [...(endpoints.get(hostName.toLowerCase())?.live.values() ?? [])].map((c) => c.id),
    holdRenewals: () => {
      let release = () => undefined as void;
      held = new Promise<void>((resolve) => (release = resolve));
      return () => {
        release();
        held = Promise.resolve();
      };
    },
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
