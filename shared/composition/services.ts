/**
 * The services of the process: the adapters (adapters.ts) and the repositories over the document store, each built
 * once, on first use.
 */
import type { DecisionCountRepository, DenyListFeed } from '../allocation';
import { withAuditTrail } from '../audit-trail';
import { OtelMetrics } from '../azure/metrics';
import type { CertificateRepository } from '../certificates';
import type { DeviceRegistryPort } from '../certificates/device-registry';
import type { DeviceIdClaimRepository, ReconcileCheckpointRepository } from '../certificates/reconcile-store';
import { storedConfigDocument } from '../config-documents';
import type { FindingRepository } from '../findings';
import type { GroupClaimRepository } from '../groups/claim';
import type { EkClaimRepository, ImportJobRepository } from '../imports';
import type { DenyListRepository } from '../incidents';
import { jsonFileDocument } from '../local/json-file';
import type { ConfigDocument, LazyServices, MetricsPort, Services } from '../ports';
import { type Env, setting, type SettingKey } from '../settings';
import { blobs, deviceRegistryFor, enrollments, events, hubs, pacedDps, queues, stagedFiles, store } from './adapters';
import { once } from './once';

/** The repositories every capability reads and writes through, each built on first use over the document store. */
export interface Repositories {
  certificates: () => Promise<CertificateRepository>;
  denyList: () => Promise<DenyListRepository & DenyListFeed>;
  findings: () => Promise<FindingRepository>;
  importJobs: () => Promise<ImportJobRepository>;
  ekClaims: () => Promise<EkClaimRepository>;
  reconcileCheckpoints: () => Promise<ReconcileCheckpointRepository>;
  deviceIdClaims: () => Promise<DeviceIdClaimRepository>;
  groupClaims: () => Promise<GroupClaimRepository>;
  decisionCounts: () => Promise<DecisionCountRepository>;
}

/** The adapters and the repositories: what the triggers hand the use cases. */
export type AppServices = LazyServices & Repositories;

/** The repositories over a document store (Cosmos in Azure and locally; the memory store in unit tests and benches). */
export function repositories(lazy: Pick<LazyServices, 'store'>): Repositories {
  return {
    certificates: once(
      async () =>
        new (await import('../certificates/store/cosmos-certificates')).CosmosCertificateRepository(await lazy.store()),
    ),
    denyList: denyListRepository(lazy),
    findings: once(
      async () => new (await import('../findings/store/cosmos-findings')).CosmosFindingRepository(await lazy.store()),
    ),
    importJobs: once(
      async () => new (await import('../imports/store/cosmos-jobs')).CosmosImportJobRepository(await lazy.store()),
    ),
    ekClaims: once(
      async () => new (await import('../imports/store/cosmos-ek-claims')).CosmosEkClaimRepository(await lazy.store()),
    ),
    reconcileCheckpoints: once(
      async () =>
        new (await import('../certificates/store/cosmos-reconcile-checkpoint')).CosmosReconcileCheckpointRepository(
          await lazy.store(),
        ),
    ),
    deviceIdClaims: once(
      async () =>
        new (await import('../certificates/store/cosmos-device-id-claims')).CosmosDeviceIdClaimRepository(
          await lazy.store(),
        ),
    ),
    groupClaims: once(
      async () =>
        new (await import('../groups/store/cosmos-group-claims')).CosmosGroupClaimRepository(await lazy.store()),
    ),
    decisionCounts: once(
      async () =>
        new (await import('../allocation/store/cosmos-decision-counts')).CosmosDecisionCountRepository(
          await lazy.store(),
        ),
    ),
  };
}

export function lazyServices(env: Env): AppServices {
  const blobService = once(() => blobs(env));
  // Where blob storage is configured (always in Azure), every audit record also goes to the immutable trail.
  const withTrail = setting(env, 'storageConnection') ?? setting(env, 'storageBlobServiceUri');
  const documents = once(async () => (withTrail ? withAuditTrail(await store(env), blobService) : store(env)));
  const lazy: LazyServices = {
    enrollments: once(async () => pacedDps(env, await enrollments(env), documents)),
    hubs: once(() => hubs(env)),
    store: documents,
    events: once(() => events(env)),
    queues: once(() => queues(env)),
    blobs: blobService,
    stagedFiles: once(() => stagedFiles(env)),
  };
  return { ...lazy, ...repositories(lazy) };
}

/** Every service built at once: for tools and tests. */
export async function buildServices(env: Env): Promise<Services> {
  const lazy = lazyServices(env);
  const [e, h, s, ev, q, b] = await Promise.all([
    lazy.enrollments(),
    lazy.hubs(),
    lazy.store(),
    lazy.events(),
    lazy.queues(),
    lazy.blobs(),
  ]);
  return { enrollments: e, hubs: h, store: s, events: ev, queues: q, blobs: b };
}

let processDeviceRegistry: Promise<DeviceRegistryPort> | undefined;

/** The process's ADR adapter, built on first use. */
export function deviceRegistry(): Promise<DeviceRegistryPort> {
  processDeviceRegistry ??= deviceRegistryFor(process.env).catch((err: unknown) => {
    processDeviceRegistry = undefined;
    throw err;
  });
  return processDeviceRegistry;
}

let processMetrics: MetricsPort | undefined;

/** The process's metrics (OpenTelemetry; exported to Azure Monitor once `startAzureMonitor` has run). */
export function appMetrics(): MetricsPort {
  processMetrics ??= new OtelMetrics();
  return processMetrics;
}

/** Exports the metrics to Azure Monitor where Application Insights is configured; loaded only then. */
export async function startMonitoring(env: Env): Promise<boolean> {
  if (!env.APPLICATIONINSIGHTS_CONNECTION_STRING) return false;
  return (await import('../azure/monitor')).startAzureMonitor(env);
}

let processServices: AppServices | undefined;

/** The process-wide services of the function app. */
export function services(): AppServices {
  processServices ??= lazyServices(process.env);
  return processServices;
}

export type { LazyServices, Services };

/**
 * The repositories of breach containment, on the document store; like every adapter, each module is loaded when
 * first asked for, so the webhook's cold start does not pay for containment.
 */
export function incidentRepositories(lazy: Pick<AppServices, 'store' | 'denyList'>) {
  return {
    incidents: once(
      async () =>
        new (await import('../incidents/store/incident-repository')).CosmosIncidentRepository(await lazy.store()),
    ),
    holds: once(
      async () => new (await import('../incidents/store/hold-repository')).CosmosHoldRepository(await lazy.store()),
    ),
    denyList: lazy.denyList,
  };
}

/** The deny list: written by containment, followed by every webhook instance through its change log. */
export function denyListRepository(
  lazy: Pick<LazyServices, 'store'>,
): () => Promise<DenyListRepository & DenyListFeed> {
  return once(
    async () =>
      new (await import('../incidents/store/deny-list-repository')).CosmosDenyListRepository(await lazy.store()),
  );
}

/**
 * A configuration document: the file a setting names (local development), else the document `documentId` of the
 * `policies` container. The choice is made here, once, so the use cases read a ConfigDocument and never the disk.
 */
export function configDocument(
  env: Env,
  fileSetting: SettingKey,
  documentId: string,
  lazy: Pick<LazyServices, 'store'>,
): ConfigDocument {
  const file = setting(env, fileSetting);
  return file ? jsonFileDocument(file) : storedConfigDocument(lazy.store, documentId);
}
