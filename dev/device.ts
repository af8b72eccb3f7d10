/**
 * A simulated device that registers through the official device SDK (`azure-iot-provisioning-device` over
 * `azure-iot-provisioning-device-http` or `-mqtt`, with `azure-iot-security-symmetric-key` or `-x509`), pointed at
 * the local simulator by the transport's agent or host and the local CA. The same code registers against real DPS when given no local transport.
 */
import { createHmac } from 'node:crypto';

import { Http as HttpBase } from 'azure-iot-http-base';
import { MqttBase } from 'azure-iot-mqtt-base';
import { ProvisioningDeviceClient, type RegistrationResult } from 'azure-iot-provisioning-device';
import { Http as ProvisioningHttp } from 'azure-iot-provisioning-device-http';
import { Mqtt as ProvisioningMqtt } from 'azure-iot-provisioning-device-mqtt';
import { SymmetricKeySecurityClient } from 'azure-iot-security-symmetric-key';
import { X509Security } from 'azure-iot-security-x509';

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

async function register(
  env: Record<string, string | undefined>,
  security: unknown,
  payload: unknown,
  kind: DeviceTransport = 'http',
): Promise<RegistrationResult> {
  const { host, sdk } = deviceTransport(env, kind);
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
