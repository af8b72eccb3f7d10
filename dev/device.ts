/**
 * A simulated device that registers through the official device SDK (`azure-iot-provisioning-device` over
 * `azure-iot-provisioning-device-http` with `azure-iot-security-symmetric-key`), pointed at the local simulator by
 * the HTTP base's agent and CA. The same code registers against real DPS when given no local transport.
 */
import { createHmac } from 'node:crypto';

import { Http as HttpBase } from 'azure-iot-http-base';
import { ProvisioningDeviceClient, type RegistrationResult } from 'azure-iot-provisioning-device';
import { Http as ProvisioningHttp } from 'azure-iot-provisioning-device-http';
import { SymmetricKeySecurityClient } from 'azure-iot-security-symmetric-key';
import { X509Security } from 'azure-iot-security-x509';

import { iotTransport } from '../shared/azure/transport';

export const GLOBAL_DEVICE_ENDPOINT = 'global.azure-devices-provisioning.net';

/** The device key of a symmetric-key group member: HMAC-SHA256 of the registration ID under the group key. */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId).digest('base64');
}

/** Registers with the device SDK over HTTP; locally the HTTP base dials the simulator and trusts the local CA. */
async function register(
  env: Record<string, string | undefined>,
  security: unknown,
  payload: unknown,
): Promise<RegistrationResult> {
  const httpBase = new HttpBase();
  const transport = iotTransport(env);
  if (transport) httpBase.setOptions({ http: { agent: transport.agent }, ca: transport.ca });
  const client = ProvisioningDeviceClient.create(
    GLOBAL_DEVICE_ENDPOINT,
    env.DPS_ID_SCOPE as string,
    new ProvisioningHttp(httpBase as never),
    security as never,
  );
  if (payload !== undefined) client.setProvisioningPayload(payload as never);
  return (await client.register()) as RegistrationResult;
}

export function registerSymmetricKeyDevice(
  env: Record<string, string | undefined>,
  registrationId: string,
  deviceKey: string,
  payload?: unknown,
): Promise<RegistrationResult> {
  return register(env, new SymmetricKeySecurityClient(registrationId, deviceKey), payload);
}

/** An X.509 device: `certChainPem` is its certificate followed by any intermediates, as a device presents them in TLS. */
export function registerX509Device(
  env: Record<string, string | undefined>,
  registrationId: string,
  certChainPem: string,
  keyPem: string,
  payload?: unknown,
): Promise<RegistrationResult> {
  return register(env, new X509Security(registrationId, { cert: certChainPem, key: keyPem }), payload);
}
