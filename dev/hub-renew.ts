/**
 * A device renewing its issued certificate through its hub (concept-certificate-renewal, "Submit a new CSR directly to
 * IoT Hub"; the wire in dev/sim/hub-credentials.ts): a new key and CSR, the request on
 * `$iothub/credentials/POST/issueCertificate/?$rid=…`, the 202 then the result on `$iothub/credentials/res/…`, and the
 * new chain checked as after provisioning (leaf → issuing CA → the namespace's root, the device's own key, the policy's
 * days). The live session is not torn down: the new certificate is for the next connection, as the docs say.
 *
 * `azure-iot-device` 1.18.4 has no renewal API (the C, Java and .NET SDKs have one), so the request goes on the SDK's
 * own MQTT session (`client._transport._mqtt`, azure-iot-mqtt-base's MqttBase: `subscribe`, `publish`, `message`); the
 * SDK ignores messages on topics it did not register, so its own traffic is undisturbed.
 */
import { randomUUID, X509Certificate } from 'node:crypto';

import { checkIssuedChain, newCsr } from './device-csr';
import type { ConnectedDevice } from './hub-device';

export interface CredentialAnswer {
  status: number;
  body: Record<string, unknown>;
}

interface MqttBase {
  subscribe(topic: string, options: { qos: 0 | 1 }, done: (err?: Error) => void): void;
  publish(topic: string, payload: string, options: { qos: 0 | 1 }, done: (err?: Error) => void): void;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): void;
  removeListener(event: 'message', listener: (topic: string, payload: Buffer) => void): void;
}

const RESPONSES = '$iothub/credentials/res/#';
/** Bounded, and generous enough for a slow machine: a renewal that never answers fails the caller instead of hanging. */
const ANSWER_WITHIN_MS = 60_000;

const mqttOf = (device: ConnectedDevice) =>
  (device.client as unknown as { _transport: { _mqtt: MqttBase } })._transport._mqtt;

const done = (run: (cb: (err?: Error) => void) => void) =>
  new Promise<void>((resolve, reject) => run((err) => (err ? reject(err) : resolve())));

/** An open request: its answers, in order, as the hub sends them for its `$rid`. */
export interface CredentialRequest {
  rid: string;
  next(): Promise<CredentialAnswer>;
  close(): void;
}

/** Publishes one request body (any JSON, or raw text to try malformed ones) and collects the answers to its `$rid`. */
export async function sendCredentialRequest(device: ConnectedDevice, body: unknown): Promise<CredentialRequest> {
  const mqtt = mqttOf(device);
  const rid = randomUUID();
  const queue: CredentialAnswer[] = [];
  const waiters: Array<(a: CredentialAnswer) => void> = [];
  const listener = (topic: string, payload: Buffer) => {
    const m = /^\$iothub\/credentials\/res\/(\d+)\/\?(.*)$/.exec(topic);
    if (!m || new URLSearchParams(m[2]).get('$rid') !== rid) return;
    const answer = { status: Number(m[1]), body: JSON.parse(payload.toString() || '{}') as Record<string, unknown> };
    const waiter = waiters.shift();
    if (waiter) waiter(answer);
    else queue.push(answer);
  };
  mqtt.on('message', listener);
  await done((cb) => mqtt.subscribe(RESPONSES, { qos: 0 }, cb));
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  await done((cb) => mqtt.publish(`$iothub/credentials/POST/issueCertificate/?$rid=${rid}`, payload, { qos: 0 }, cb));
  return {
    rid,
    next: () => {
      const ready = queue.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<CredentialAnswer>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no answer to ${rid} within ${ANSWER_WITHIN_MS} ms`)),
          ANSWER_WITHIN_MS,
        );
        waiters.push((a) => {
          clearTimeout(timer);
          resolve(a);
        });
      });
    },
    close: () => mqtt.removeListener('message', listener),
  };
}

/** What a device keeps after a renewal: its new key and chain (PEM, leaf first), for its next connection. */
export interface Renewed {
  keyPem: string;
  certPem: string;
  chain: X509Certificate[];
  accepted: CredentialAnswer;
}

/**
 * Renews `deviceId`'s certificate over its live connection and checks the new chain against the namespace's root and
 * the policy's days; throws with the hub's answer when it refuses.
 */
export async function renewCertificate(
  device: ConnectedDevice,
  deviceId: string,
  expected: { rootDer: Buffer; validityDays: number },
): Promise<Renewed> {
  const { csr, keyPem } = await newCsr(deviceId);
  const request = await sendCredentialRequest(device, { id: deviceId, csr });
  try {
    const accepted = await request.next();
    if (accepted.status !== 202)
      throw Object.assign(new Error(`renewal refused: ${JSON.stringify(accepted)}`), { accepted });
    const result = await request.next();
    if (result.status !== 200) throw Object.assign(new Error(`renewal failed: ${JSON.stringify(result)}`), { result });
    const issuedCertificateChain = result.body.certificates as string[];
    const chain = checkIssuedChain({ issuedCertificateChain, registrationId: deviceId, keyPem }, expected);
    return { keyPem, certPem: chain.map((c) => c.toString()).join(''), chain, accepted };
  } finally {
    request.close();
  }
}
