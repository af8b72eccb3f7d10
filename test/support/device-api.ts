/** Calls of DPS's device API the device SDK does not make (or not this way), signed as the SDKs sign them. */
import { GLOBAL_DEVICE_ENDPOINT } from '../../dev/device';
import { type JsonAnswer, jsonHttps } from '../../dev/json-https';
import { sign } from '../../dev/sim/sas';
import { OUTSIDE_CONTRACT_HEADER } from '../../dev/sim/wire';
import { iotTransport } from '../../shared/azure/transport';

export type DeviceApiAnswer = JsonAnswer;

/** Headers of a call a test sends outside the published contract on purpose: the contract check then wants a 400. */
export const OUTSIDE_CONTRACT = { [OUTSIDE_CONTRACT_HEADER]: 'on purpose' };

/** The SAS a device signs with its key for its own registration. */
export function deviceSas(env: Record<string, string | undefined>, registrationId: string, deviceKey: string): string {
  const resource = `${env.DPS_ID_SCOPE}/registrations/${registrationId}`;
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  return `SharedAccessSignature sr=${encodeURIComponent(resource)}&sig=${encodeURIComponent(sign(encodeURIComponent(resource), deviceKey, expiry))}&se=${expiry}&skn=registration`;
}

/** One HTTPS call to the device API on `path` (after the ID scope), as a device would make it. */
export function deviceApi(
  env: Record<string, string | undefined>,
  method: string,
  path: string,
  authorization?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<DeviceApiAnswer> {
  const transport = iotTransport(env);
  return jsonHttps(
    {
      host: GLOBAL_DEVICE_ENDPOINT,
      path: `/${env.DPS_ID_SCOPE}${path}`,
      method,
      agent: transport?.agent,
      headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json', ...headers },
    },
    body,
  );
}

/** `POST /{idScope}/registrations/{registrationId}`: the device reads its own registration (DeviceRegistrationStatusLookup). */
export function statusLookup(
  env: Record<string, string | undefined>,
  registrationId: string,
  deviceKey: string,
  apiVersion = '2021-06-01',
): Promise<DeviceApiAnswer> {
  return deviceApi(
    env,
    'POST',
    `/registrations/${registrationId}?api-version=${apiVersion}`,
    deviceSas(env, registrationId, deviceKey),
    { registrationId },
  );
}
