/**
 * Builds the REST clients of the two IoT service SDKs from configuration: a connection string (SAS, rolled
 * hourly by the SDK), or an Entra ID token credential (managed identity). Locally, the loopback transport.
 */
import type { TokenCredential } from '@azure/identity';
import { ConnectionString, SharedAccessSignature } from 'azure-iot-common';
import { RestApiClient } from 'azure-iot-http-base';

import { DeadlineHttp } from './deadline-http';
import type { IotDeadlines } from './iot-deadlines';
import type { TransportOptions } from './transport';

export { DPS_TOKEN_SCOPE, IOTHUB_TOKEN_SCOPE } from './scopes';

export type IotAuth = { connectionString: string } | { hostName: string; credential: TokenCredential; scope: string };

export interface IotClientConfig {
  host: string;
  sharedAccessSignature?: SharedAccessSignature;
  tokenCredential?: TokenCredential;
  tokenScope?: string;
}

export function iotClientConfig(auth: IotAuth): IotClientConfig {
  if ('connectionString' in auth) {
    const cn = ConnectionString.parse(auth.connectionString, ['HostName', 'SharedAccessKeyName', 'SharedAccessKey']);
    const host = cn.HostName as string;
    return {
      host,
      sharedAccessSignature: SharedAccessSignature.create(
        host,
        cn.SharedAccessKeyName as string,
        cn.SharedAccessKey as string,
        Date.now() / 1000 + 3600,
      ),
    };
  }
  return { host: auth.hostName, tokenCredential: auth.credential, tokenScope: auth.scope };
}

/**
 * A RestApiClient whose every request has a deadline (deadline-http.ts), with the given transport pinned: the hub
 * Registry's constructor calls `setOptions` with an agent of its own, which would otherwise drop ours (and the CA)
 * on the local stack.
 */
export function restApiClient(
  config: IotClientConfig,
  userAgent: string,
  transport: TransportOptions | undefined,
  deadlines: IotDeadlines = {},
): RestApiClient {
  const client = new RestApiClient(config as never, userAgent, new DeadlineHttp(deadlines));
  if (transport) {
    const pinned = { http: { agent: transport.agent }, ca: transport.ca };
    const setOptions = client.setOptions.bind(client);
    setOptions(pinned);
    client.setOptions = (options: object) => setOptions({ ...options, ...pinned });
  }
  return client;
}
