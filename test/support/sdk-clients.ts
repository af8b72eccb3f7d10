/**
 * The official SDKs' clients pointed at a test stack, built here rather than through the production adapters, so a
 * test sees exactly what the SDK makes of an answer (or of a lost one) with no adapter in between: DPS and IoT Hub
 * through `azure-iot-http-base`'s RestApiClient with a loopback agent (the real host name kept for SNI and Host),
 * Cosmos and Storage from the stack's connection strings (through the fault proxies when faults are on).
 */
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

import { CosmosClient } from '@azure/cosmos';
import { QueueClient, type StoragePipelineOptions } from '@azure/storage-queue';
import { ConnectionString, SharedAccessSignature } from 'azure-iot-common';
import { RestApiClient } from 'azure-iot-http-base';
import { ProvisioningServiceClient } from 'azure-iot-provisioning-service';
import { Registry } from 'azure-iothub';

import type { LocalStack } from '../../dev/stack';

/** Dials the simulator's loopback port whatever host the SDK asks for. */
class LoopbackAgent extends https.Agent {
  constructor(
    private readonly port: number,
    private readonly ca: string,
  ) {
    super({ keepAlive: true, ca });
  }

  override createConnection(options: tls.ConnectionOptions, done?: (err: Error | null, s: Duplex) => void): Duplex {
    const servername = options.servername || (options.host as string | undefined);
    const socket = tls.connect({ ...options, host: '127.0.0.1', port: this.port, servername, ca: this.ca });
    if (done) socket.once('secureConnect', () => done(null, socket));
    return socket;
  }
}

function iotRest(stack: LocalStack, connectionString: string): { config: object; rest: RestApiClient } {
  const cn = ConnectionString.parse(connectionString, ['HostName', 'SharedAccessKeyName', 'SharedAccessKey']);
  const host = cn.HostName as string;
  const sas = SharedAccessSignature.create(
    host,
    cn.SharedAccessKeyName as string,
    cn.SharedAccessKey as string,
    Date.now() / 1000 + 3600,
  );
  const config = { host, sharedAccessSignature: sas };
  const rest = new RestApiClient(config as never, 'dps-lifecycle-faults-test');
  const ca = readFileSync(stack.env.LOCAL_CA_FILE, 'utf8');
  const pinned = { http: { agent: new LoopbackAgent(stack.simulator.port, ca) }, ca };
  const setOptions = rest.setOptions.bind(rest);
  setOptions(pinned);
  // The hub Registry calls setOptions with an agent of its own, which would drop ours.
  rest.setOptions = (options: object) => setOptions({ ...options, ...pinned });
  return { config, rest };
}

export function dpsSdk(stack: LocalStack): ProvisioningServiceClient {
  const { config, rest } = iotRest(stack, stack.env.DPS_CONNECTION_STRING);
  return new ProvisioningServiceClient(config as never, rest as never);
}

export function hubSdk(stack: LocalStack, hostName: string): Registry {
  const cs = stack.env.IOTHUB_CONNECTION_STRINGS.split(',').find((c) => c.includes(`HostName=${hostName};`));
  if (!cs) throw new Error(`no hub ${hostName} in the stack`);
  const { config, rest } = iotRest(stack, cs);
  return new Registry(config as never, rest as never);
}

/** A Cosmos client as the adapters build it locally (keep-alive, the local CA, no endpoint discovery). */
export function cosmosSdk(stack: LocalStack, requestTimeoutMs?: number): CosmosClient {
  const [, endpoint, key] = /AccountEndpoint=([^;]+);AccountKey=([^;]+)/.exec(stack.env.COSMOS_CONNECTION) ?? [];
  return new CosmosClient({
    endpoint,
    key,
    agent: new https.Agent({ ca: readFileSync(stack.env.LOCAL_CA_FILE, 'utf8'), keepAlive: true }),
    connectionPolicy: {
      enableEndpointDiscovery: false,
      ...(requestTimeoutMs ? { requestTimeout: requestTimeoutMs } : {}),
    },
  });
}

export function queueSdk(stack: LocalStack, queue: string, options: StoragePipelineOptions = {}): QueueClient {
  return new QueueClient(stack.env.AzureWebJobsStorage, queue, options);
}

/** The message of an error, or of the error a callback-style SDK handed over. */
export const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
