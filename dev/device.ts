/**
 * A simulated device that registers through the official device SDK (`azure-iot-provisioning-device` over
 * `azure-iot-provisioning-device-http` or `-mqtt`, with `azure-iot-security-symmetric-key`, `-x509` or `-tpm`), pointed at
 * the local simulator by the transport's agent or host and the local CA. The same code registers against real DPS when given no local transport.
 */
import { createHmac } from 'node:crypto';

import { Http as HttpBase } from 'azure-iot-http-base';
import { MqttBase } from 'azure-iot-mqtt-base';
import { ProvisioningDeviceClient, type RegistrationResult } from 'azure-iot-provisioning-device';
import { Http as ProvisioningHttp } from 'azure-iot-provisioning-device-http';
import { Mqtt as ProvisioningMqtt } from 'azure-iot-provisioning-device-mqtt';
import { SymmetricKeySecurityClient } from 'azure-iot-security-symmetric-key';
import { TpmSecurityClient } from 'azure-iot-security-tpm';
import { X509Security } from 'azure-iot-security-x509';

import { openTpm } from '../cli/tpm/connection';
import { call } from '../cli/tpm/identity';
import { iotTransport } from '../shared/azure/transport';

export const GLOBAL_DEVICE_ENDPOINT = 'global.azure-devices-provisioning.net';

/** The device key of a symmetric-key group member: HMAC-SHA256 of the registration ID under the group key. */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId).digest('base64');
}

export type DeviceTransport = 'http' | 'mqtt';

/**
 * The device SDK's transport. HTTP: locally its base dials the simulator and trusts the local CA. MQTT: the device is
 * pointed at the local listener as at a private endpoint (provisioning host `localhost:port`), trusting the local CA.
 */
function deviceTransport(env: Record<string, string | undefined>, kind: DeviceTransport) {
  const transport = iotTransport(env);
  if (kind === 'mqtt') {
    const base = new MqttBase();
    if (transport) base.setOptions({ ca: transport.ca });
    return { host: env.LOCAL_DPS_MQTT_HOST ?? GLOBAL_DEVICE_ENDPOINT, sdk: new ProvisioningMqtt(base as never) };
  }
  const httpBase = new HttpBase();
  if (transport) httpBase.setOptions({ http: { agent: transport.agent }, ca: transport.ca });
  return { host: GLOBAL_DEVICE_ENDPOINT, sdk: new ProvisioningHttp(httpBase as never) };
}

/** Both device transports take the polling interval as a transport option (the SDK types leave it out). */
interface PollingOptions {
  setTransportOptions(options: { pollingInterval: number }): void;
}

async function register(
  env: Record<string, string | undefined>,
  security: unknown,
  payload: unknown,
  kind: DeviceTransport = 'http',
): Promise<RegistrationResult> {
  const { host, sdk } = deviceTransport(env, kind);
  // How long the device waits between polls when DPS sends no Retry-After (the SDK's default is 2 s). Real DPS sends
  // one; the test stack sends none (`pollAfterSeconds: 0`), so its devices poll at this pace instead.
  const pollMs = Number(env.DEVICE_POLL_INTERVAL_MS);
  if (pollMs > 0) (sdk as unknown as PollingOptions).setTransportOptions({ pollingInterval: pollMs });
  const client = ProvisioningDeviceClient.create(host, env.DPS_ID_SCOPE as string, sdk as never, security as never);
  if (payload !== undefined) client.setProvisioningPayload(payload as never);
  return (await client.register()) as RegistrationResult;
}

export function registerSymmetricKeyDevice(
  env: Record<string, string | undefined>,
  registrationId: string,
  deviceKey: string,
  payload?: unknown,
  transport?: DeviceTransport,
): Promise<RegistrationResult> {
  return register(env, new SymmetricKeySecurityClient(registrationId, deviceKey), payload, transport);
}

/** An X.509 device: `certChainPem` is its certificate followed by any intermediates, as a device presents them in TLS. */
export function registerX509Device(
  env: Record<string, string | undefined>,
  registrationId: string,
  certChainPem: string,
  keyPem: string,
  payload?: unknown,
  transport?: DeviceTransport,
): Promise<RegistrationResult> {
  return register(env, new X509Security(registrationId, { cert: certChainPem, key: keyPem }), payload, transport);
}

/** A TPM device after registering: what DPS answered, and its TPM, which now holds the device's hub key. */
export interface RegisteredTpmDevice {
  /** What the assigned registration says (the TPM flow answers with the whole operation, not the flat result). */
  registration: { registrationId: string; assignedHub: string; deviceId: string; payload?: unknown };
  /** HMAC-SHA256 with the hub key, inside the TPM: how the device signs its IoT Hub SAS tokens. */
  sign(data: Buffer): Promise<Buffer>;
  close(): void;
}

/**
 * A TPM device at `tpmAddress` (HOST:PORT or a device path): the official TPM client reads its EK and SRK, answers
 * DPS's challenge inside the TPM and keeps the hub key there. DPS takes TPM attestation over HTTPS only.
 */
export async function registerTpmDevice(
  env: Record<string, string | undefined>,
  tpmAddress: string,
  payload?: unknown,
): Promise<RegisteredTpmDevice> {
  const connection = await openTpm(tpmAddress);
  const security = new TpmSecurityClient(undefined, connection.tpm);
  try {
    const result = (await register(env, security, payload, 'http')) as RegistrationResult & {
      registrationState?: RegisteredTpmDevice['registration'];
    };
    return {
      registration: result.registrationState ?? (result as unknown as RegisteredTpmDevice['registration']),
      sign: (data) => call<Buffer>((done) => security.signWithIdentity(data, done)),
      close: () => connection.close(),
    };
  } catch (err) {
    connection.close();
    throw err;
  }
}

// Registration with a CSR (DPS 2026-11-01), which the SDK cannot send: the device API's own HTTPS exchange.
export {
  checkIssuedChain,
  type IssuedDevice,
  registerSymmetricKeyDeviceWithCsr,
  registerTpmDeviceWithCsr,
  registerX509DeviceWithCsr,
} from './device-csr';
