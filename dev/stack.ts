/**
 * The local Azure stack: the local CA, the DPS/IoT Hub simulator, the embedded Cosmos server and Azurite, all on
 * loopback, configured from the local settings. `npm start` runs it with the settings' fixed ports and keeps its
 * data; tests run it on free ports, in memory. Either way it answers with the effective app settings (env).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { QueueServiceClient } from '@azure/storage-queue';
import { ConnectionString } from 'azure-iot-common';

import { QUEUES } from '../shared/containers';
import { type RunningAzurite, startAzurite } from './azurite';
import { type RunningCosmos, startCosmos } from './cosmos';
import { FaultInjector } from './faults/injector';
import type { FaultPlan } from './faults/plan';
import { type ProxiedService, proxyCosmos, proxyStorage } from './faults/proxies';
import { type LocalSettings, resolvePath } from './local-settings';
import { localPki } from './pki';
import { DEFAULT_QUOTAS } from './sim/quotas';
import { type RunningSimulator, type SimulatorOptions, startSimulator } from './sim/simulator';

export interface StackOptions {
  /** Where the CA, snapshots and the event log live. */
  dataDir: string;
  /** true: fixed ports from the settings and data kept across restarts; false: free ports, nothing kept. */
  persistent: boolean;
  quotas?: SimulatorOptions['quotas'];
  /** The clock the simulator's quotas refill by; tests that must meet a 429 pass one they advance. */
  clock?: SimulatorOptions['clock'];
  webhook?: SimulatorOptions['webhook'];
  pollAfterSeconds?: number;
  /** Skip Azurite when a test does not need queues (it is the slowest part to start). */
  withStorage?: boolean;
  log?: (line: string) => void;
  onExchange?: SimulatorOptions['onExchange'];
  /**
   * Faults on demand (dev/faults/, README "Faults on demand"). Given (even `{ rules: [] }`), the simulator checks
   * every request against the plan and fault proxies stand in front of Cosmos and Azurite; absent, neither exists
   * and the stack runs exactly as without faults. Windows are on `clock`.
   */
  faults?: FaultPlan;
}

export interface LocalStack {
  env: Record<string, string>;
  simulator: RunningSimulator;
  cosmos: RunningCosmos;
  azurite?: RunningAzurite;
  /** The fault plan's handle when `faults` was given: `set(plan)` at run time, `counts()`, `summary()`, `events`. */
  faults?: FaultInjector;
  close(): Promise<void>;
}

function parse(cs: string): Record<string, string> {
  return ConnectionString.parse(cs) as unknown as Record<string, string>;
}

export async function startLocalStack(settings: LocalSettings, options: StackOptions): Promise<LocalStack> {
  const v = settings.Values;
  mkdirSync(options.dataDir, { recursive: true });
  const pki = await localPki(join(options.dataDir, 'pki'));
  const port = (endpoint: string) => (options.persistent ? Number(new URL(endpoint).port) : 0);

  const dps = parse(v.DPS_CONNECTION_STRING);
  const hubs = v.IOTHUB_CONNECTION_STRINGS.split(',')
    .map(parse)
    .map((h) => ({ hostName: h.HostName, policyName: h.SharedAccessKeyName, key: h.SharedAccessKey, units: 1 }));
  const faults = options.faults ? new FaultInjector(options.faults, options.clock) : undefined;
  const simulator = await startSimulator({
    tls: { cert: pki.server.certPem, key: pki.server.keyPem },
    port: options.persistent ? Number(v.LOCAL_IOT_ENDPOINT.split(':')[1]) : 0,
    mqttPort: options.persistent ? 8883 : 0,
    dps: {
      hostName: dps.HostName,
      idScope: v.DPS_ID_SCOPE,
      policyName: dps.SharedAccessKeyName,
      key: dps.SharedAccessKey,
    },
    hubs,
    quotas: options.quotas,
    clock: options.clock,
    webhook: options.webhook,
    pollAfterSeconds: options.pollAfterSeconds,
    snapshotFile: options.persistent ? join(options.dataDir, 'iot-sim.json') : undefined,
    adrDir: join(options.dataDir, 'adr'),
    log: options.log,
    onExchange: options.onExchange,
    faults,
  });

  const started: Array<{ close(): Promise<void> }> = [simulator];
  const abandon = async (err: unknown): Promise<never> => {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    throw err;
  };

  const cosmosEndpoint = /AccountEndpoint=([^;]+)/.exec(v.COSMOS_CONNECTION)?.[1] ?? 'https://127.0.0.1:8081/';
  const cosmos = await startCosmos({
    tls: { cert: pki.server.certPem, key: pki.server.keyPem },
    ca: pki.ca.certPem,
    port: port(cosmosEndpoint),
    database: v.COSMOS_DATABASE,
    snapshotFile: options.persistent ? join(options.dataDir, 'cosmos.json') : undefined,
  }).catch(abandon);
  started.push(cosmos);
  // Clients reach Cosmos and Azurite through the fault proxies; the stack's own setup (containers, queues, snapshots)
  // keeps its direct connections, so a plan never breaks the stack itself.
  let cosmosProxy: ProxiedService | undefined;
  if (faults) {
    cosmosProxy = await proxyCosmos(faults, cosmos, {
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
    }).catch(abandon);
    started.push(cosmosProxy);
  }

  let azurite: RunningAzurite | undefined;
  if (options.withStorage !== false) {
    const storage = /QueueEndpoint=([^;]+)/.exec(v.AzureWebJobsStorage)?.[1];
    const blob = /BlobEndpoint=([^;]+)/.exec(v.AzureWebJobsStorage)?.[1];
    azurite = await startAzurite({
      dataDir: options.dataDir,
      persist: options.persistent,
      queuePort: options.persistent && storage ? Number(new URL(storage).port) : undefined,
      blobPort: options.persistent && blob ? Number(new URL(blob).port) : undefined,
    }).catch(abandon);
    // The queues the code uses, as infra/ declares them in Azure.
    const service = QueueServiceClient.fromConnectionString(azurite.connectionString);
    for (const name of Object.values(QUEUES)) await service.getQueueClient(name).createIfNotExists();
  }
  const storageProxy =
    faults && azurite ? await proxyStorage(faults, azurite.connectionString).catch(abandon) : undefined;

  const env: Record<string, string> = {
    ...v,
    LOCAL_CA_FILE: pki.caFile,
    LOCAL_IOT_ENDPOINT: `127.0.0.1:${simulator.port}`,
    /** DPS's device API over MQTT, where a device is pointed as at a private endpoint (provisioning host). */
    LOCAL_DPS_MQTT_HOST: `localhost:${simulator.mqttPort}`,
    /**
     * What a device puts in its connection string as `GatewayHostName` to reach its hub locally (hub-device.ts): the
     * same listener; the SDK dials 8883 when no port is given, as `npm start` listens.
     */
    LOCAL_HUB_GATEWAY_HOST: simulator.mqttPort === 8883 ? 'localhost' : `localhost:${simulator.mqttPort}`,
    COSMOS_CONNECTION: (cosmosProxy ?? cosmos).connectionString,
    // Unless the settings say otherwise, the backend's DPS pace starts at what this DPS allows, as an operator would
    // configure it in Azure.
    DPS_OPERATIONS_PER_MINUTE:
      v.DPS_OPERATIONS_PER_MINUTE ??
      String(options.quotas?.dpsOperationsPerMinute ?? DEFAULT_QUOTAS.dpsOperationsPerMinute),
    EVENT_LOG_PATH: resolvePath(v.EVENT_LOG_PATH ?? join(options.dataDir, 'events.ndjson')),
    ...(azurite ? { AzureWebJobsStorage: (storageProxy ?? azurite).connectionString } : {}),
  };
  if (!options.persistent) env.EVENT_LOG_PATH = join(options.dataDir, 'events.ndjson');

  return {
    env,
    simulator,
    cosmos,
    azurite,
    faults,
    close: async () => {
      await simulator.close();
      await storageProxy?.close();
      await cosmosProxy?.close();
      await cosmos.close();
      await azurite?.close();
    },
  };
}
