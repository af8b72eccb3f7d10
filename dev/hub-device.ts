/**
 * A device on its IoT hub through the official device SDK (`azure-iot-device` over `azure-iot-device-mqtt`, MQTT over
 * TLS), given its hub, device ID and credential: a symmetric key, a certificate and key (PEM), or a signer that keeps
 * the key elsewhere (a TPM). Locally it reaches the simulated hub as a device reaches IoT Hub through a gateway: the
 * hub's real host name, `GatewayHostName` = the local listener (env `LOCAL_HUB_GATEWAY_HOST`), the local CA trusted.
 * Without that setting the same code connects to the real hub.
 *
 * The SDK (1.18.4) honours `GatewayHostName` only in a SharedAccessKey connection string: for `x509=true` it builds its
 * X509AuthenticationProvider from HostName and DeviceId alone (device_client.js `fromConnectionString`). So every kind
 * of credential is given to the SDK as an authentication provider built here, with the gateway in its credentials,
 * which is what the SDK's MQTT transport reads (`mqtts://<gatewayHostName || host>`).
 */
import { readFileSync } from 'node:fs';

import { NoRetry } from 'azure-iot-common';
import {
  Client,
  Message,
  SharedAccessKeyAuthenticationProvider,
  SharedAccessSignatureAuthenticationProvider,
  type Twin,
  X509AuthenticationProvider,
} from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';

export type HubCredential =
  | { type: 'sas'; key: string }
  | { type: 'x509'; certPem: string; keyPem: string }
  /** HMAC-SHA256 under the device key, done where the key lives (a TPM's `signWithIdentity`). */
  | { type: 'signer'; sign: (data: Buffer) => Promise<Buffer> };

export interface ConnectedDevice {
  client: Client;
  /** Telemetry on `devices/{id}/messages/events/`, JSON with its content type and encoding. */
  send(body: unknown, properties?: Record<string, string>): Promise<void>;
  twin(): Promise<Twin>;
  report(patch: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** A SAS token for `{hub}/devices/{id}`, signed by `sign`, valid an hour (the SDK's own default lifetime). */
async function signedToken(hub: string, deviceId: string, sign: (data: Buffer) => Promise<Buffer>): Promise<string> {
  const sr = encodeURIComponent(`${hub}/devices/${deviceId}`);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent((await sign(Buffer.from(`${sr}\n${se}`))).toString('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}`;
}

async function authenticationProvider(hub: string, deviceId: string, credential: HubCredential, gateway?: string) {
  const gatewayPart = gateway ? `;GatewayHostName=${gateway}` : '';
  if (credential.type === 'sas')
    return SharedAccessKeyAuthenticationProvider.fromConnectionString(
      `HostName=${hub};DeviceId=${deviceId};SharedAccessKey=${credential.key}${gatewayPart}`,
    );
  const base = { host: hub, deviceId, ...(gateway ? { gatewayHostName: gateway } : {}) };
  if (credential.type === 'x509')
    return new X509AuthenticationProvider({ ...base, x509: { cert: credential.certPem, key: credential.keyPem } });
  return new SharedAccessSignatureAuthenticationProvider({
    ...base,
    sharedAccessSignature: await signedToken(hub, deviceId, credential.sign),
  });
}

/**
 * Opens the device's connection. `retry: false` (the default here) makes a refused CONNECT fail at once; the SDK's own
 * policy (exponential back-off) is what a field device runs with.
 */
export async function connectHubDevice(
  env: Record<string, string | undefined>,
  hubHostName: string,
  deviceId: string,
  credential: HubCredential,
  options: { retry?: boolean } = {},
): Promise<ConnectedDevice> {
  const gateway = env.LOCAL_HUB_GATEWAY_HOST;
  const provider = await authenticationProvider(hubHostName, deviceId, credential, gateway);
  const client = Client.fromAuthenticationProvider(provider as never, Mqtt);
  if (!options.retry) client.setRetryPolicy(new NoRetry());
  if (env.LOCAL_CA_FILE) await client.setOptions({ ca: readFileSync(env.LOCAL_CA_FILE, 'utf8') });
  await client.open();
  return {
    client,
    send: async (body, properties = {}) => {
      const message = new Message(JSON.stringify(body));
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      for (const [k, v] of Object.entries(properties)) message.properties.add(k, v);
      await client.sendEvent(message);
    },
    twin: () => client.getTwin(),
    report: async (patch) => {
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) =>
        twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())),
      );
    },
    close: async () => {
      await client.close();
    },
  };
}
