/**
 * The interfaces the use cases need from the outside world (docs/architecture.md, Layers). Adapters in
 * `shared/azure/` implement them with the Azure SDKs; tests and the local stack run the same adapters.
 */
import type {
  BulkEnrollmentMode,
  BulkEnrollmentOperationResult,
  DeviceRegistrationState,
  EnrollmentGroup,
  HubBulkResult,
  HubDevice,
  HubStatistics,
  HubTwin,
  IndividualEnrollment,
} from './dps-types';

/** One page of a paged listing; `continuationToken` is absent on the last page. */
export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

/** DPS service API: enrollments, enrollment groups and registration states. Errors are those of `errors.ts`. */
export interface EnrollmentsPort {
  getEnrollment(registrationId: string): Promise<IndividualEnrollment | undefined>;
  /** Create or replace; with `etag` set the write is conditional (412 → ConflictError). */
  putEnrollment(enrollment: IndividualEnrollment): Promise<IndividualEnrollment>;
  deleteEnrollment(registrationId: string, etag?: string): Promise<void>;
  /** One bulk operation; DPS's batch limit applies (see `DPS_BULK_LIMIT`). */
  bulkEnrollments(
    mode: BulkEnrollmentMode,
    enrollments: IndividualEnrollment[],
  ): Promise<BulkEnrollmentOperationResult>;
  queryEnrollments(pageSize: number, continuationToken?: string): Promise<Page<IndividualEnrollment>>;

  getGroup(enrollmentGroupId: string): Promise<EnrollmentGroup | undefined>;
  putGroup(group: EnrollmentGroup): Promise<EnrollmentGroup>;
  deleteGroup(enrollmentGroupId: string, etag?: string): Promise<void>;
  queryGroups(pageSize: number, continuationToken?: string): Promise<Page<EnrollmentGroup>>;

  getRegistrationState(registrationId: string): Promise<DeviceRegistrationState | undefined>;
  deleteRegistrationState(registrationId: string, etag?: string): Promise<void>;
  queryGroupRegistrations(
    enrollmentGroupId: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<Page<DeviceRegistrationState>>;
  /**
   * The same port for a caller whose time ends at `deadline`: a call that would wait past it for its turn in DPS's
   * shared pace (shared/pacing) is not made (OutOfTimeError). Absent where calls are not paced.
   */
  until?(deadline: Deadline): EnrollmentsPort;
}

/**
 * When a caller's time is up: `stopAt` in milliseconds on the caller's clock `now` (a test's manual clock may not be
 * the clock of the part that reads it, so a reader compares how long is left, never the times themselves).
 */
export interface Deadline {
  stopAt: number;
  now: () => number;
}

export type HubBulkMode = 'create' | 'update' | 'updateIfMatchETag' | 'delete' | 'deleteIfMatchETag';

/** The identity registry of one IoT hub. */
export interface HubRegistryPort {
  readonly hostName: string;
  getDevice(deviceId: string): Promise<HubDevice | undefined>;
  putDevice(device: HubDevice): Promise<HubDevice>;
  deleteDevice(deviceId: string, etag?: string): Promise<void>;
  /** At most `HUB_BULK_LIMIT` devices a call; each device counts against the registry throttle. */
  bulkDevices(mode: HubBulkMode, devices: HubDevice[]): Promise<HubBulkResult>;
  getTwin(deviceId: string): Promise<HubTwin | undefined>;
  queryTwins(sql: string, pageSize: number, continuationToken?: string): Promise<Page<HubTwin>>;
  statistics(): Promise<HubStatistics>;
  /** Devices connected to the hub now (IoT Hub's service statistics, `connectedDeviceCount`). */
  connectedDevices(): Promise<number>;
  /** Starts an import job reading `devices.txt` from `input` (one job at a time per hub: JobQuotaExceededError otherwise). */
  startImportJob(input: BlobContainerRef, output: BlobContainerRef): Promise<HubJob>;
  getJob(jobId: string): Promise<HubJob | undefined>;
  /** The hub's import and export jobs: how a start whose answer was lost finds the job it made. */
  listJobs(): Promise<HubJob[]>;
}

export interface HubJob {
  jobId: string;
  status: 'enqueued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'unknown';
  progress?: number;
  failureReason?: string;
  /** The container the job reads `devices.txt` from (a SAS URL, or a plain one for identity-based access). */
  inputBlobContainerUri?: string;
  /** `import` or `export` (IoT Hub's JobProperties.type). */
  type?: string;
  /** When the hub took the job (ISO, IoT Hub's JobProperties.startTimeUtc). */
  startTimeUtc?: string;
}

/** A blob container as a hub can reach it: a SAS URL, or a plain URL the hub opens with its own identity. */
export interface BlobContainerRef {
  url: string;
  byIdentity: boolean;
}

/** Blob storage: the files IoT Hub import jobs read and write. */
export interface BlobsPort {
  put(container: string, name: string, text: string): Promise<void>;
  get(container: string, name: string): Promise<string | undefined>;
  /** Appends to an append blob, created if needed (the audit trail: blocks are only ever added). */
  append(container: string, name: string, text: string): Promise<void>;
  /** The container, created if needed, as an IoT hub will be told of it. */
  containerForHub(container: string): Promise<BlobContainerRef>;
}

/**
 * A staged file frozen at one moment: a read-only copy (`snapshot`) that nothing — the maker's upload URL included —
 * can write, and the file's `etag` at that moment, which tells whether the file was written since.
 */
export interface FilePin {
  snapshot: string;
  etag: string;
}

/** Makers' files as uploaded, kept in Blob storage while their job is validated. */
export interface StagedFilesPort {
  /** Streams `body` into the file `name`; past `maxBytes` it stops, keeps nothing and throws PayloadTooLargeError. */
  write(name: string, body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ bytes: number; etag: string }>;
  /** The file's size in bytes; undefined when there is no such file. */
  size(name: string): Promise<number | undefined>;
  /**
   * Freezes the file as it is now (as `etag`, when given) and answers its pin and size; undefined when there is no
   * such file. Throws ConflictError when the file changes while it is being pinned (or is no longer `etag`).
   */
  pin(name: string, etag?: string): Promise<(FilePin & { bytes: number }) | undefined>;
  /** The file's bytes from `offset` on — of the pinned copy when `pin` is given — fetched in ranges as consumed. */
  read(name: string, offset: number, pin?: FilePin): AsyncIterable<Uint8Array>;
  /** Whether the file is still what was pinned: false once anything wrote to it (or removed it) since. */
  unchangedSince(name: string, pin: FilePin): Promise<boolean>;
  /** A URL the maker PUTs the file to: this one file, create and write only, until `expiresOn`. */
  uploadUrl(name: string, expiresOn: Date): Promise<string>;
  /** Removes the file and every pinned copy of it. */
  delete(name: string): Promise<void>;
}

/** The allocation function's own keys: DPS carries one in the URL of every custom-allocation enrollment. */
export interface WebhookKeysPort {
  list(): Promise<Array<{ name: string; value: string }>>;
  /** Creates or replaces the key `name`; answers its value (generated by the host when none is given). */
  put(name: string, value?: string): Promise<string>;
  remove(name: string): Promise<void>;
}

/** Where the deployment keeps a secret such as the webhook URL (Key Vault in Azure). */
export interface SecretsPort {
  set(name: string, value: string): Promise<void>;
}

/** The IoT hubs this backend manages, by host name. */
export interface HubDirectory {
  hostNames(): string[];
  hub(hostName: string): HubRegistryPort;
}

/** A document with Cosmos system metadata; `_etag` drives optimistic concurrency. */
export interface StoredDocument {
  id: string;
  _etag?: string;
  [key: string]: unknown;
}

export interface QueryOptions {
  maxItems?: number;
  continuationToken?: string;
  /** Restrict the query to one logical partition (cheaper); absent = cross-partition. */
  partitionKey?: string;
}

/** One document container. Errors: ConflictError (409 create, 412 If-Match), ThrottledError. */
export interface DocumentContainer<T extends StoredDocument = StoredDocument> {
  read(id: string, partitionKey: string): Promise<T | undefined>;
  create(doc: T): Promise<T>;
  upsert(doc: T): Promise<T>;
  /** Replace only if the stored `_etag` still equals `doc._etag`. */
  replace(doc: T): Promise<T>;
  /** Absent already is fine; with `etag`, deletes only that version (412 → ConflictError). */
  delete(id: string, partitionKey: string, etag?: string): Promise<void>;
  query(sql: string, parameters?: Record<string, unknown>, options?: QueryOptions): Promise<Page<T>>;
}

export interface DocumentStore {
  container<T extends StoredDocument = StoredDocument>(name: string): DocumentContainer<T>;
}

/** Something that happened, for whoever listens (Event Hubs in Azure, an NDJSON log locally). */
export interface DomainEvent {
  type: string;
  /** Events of one subject (a device, a job) stay in order: the partition key in Event Hubs. */
  subject: string;
  time: string;
  data: Record<string, unknown>;
}

export interface EventsPort {
  publish(events: DomainEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** Storage queues that drive queue-triggered functions. */
export interface QueuePort {
  send(queueName: string, message: unknown, options?: { visibilityDelayMs?: number }): Promise<void>;
}

/** The one way the use cases tell the time: given in their deps (the tests' manual clock is one), else the system's. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** The time now, from the deps' clock or the system's. */
export const timeOf =
  (deps: { clock?: Clock }): (() => Date) =>
  () =>
    (deps.clock ?? systemClock).now();

/**
 * A JSON document the app reads as configuration (the allocation policy, the manufacturers, DPS's CA certificates):
 * a file locally, a document of the `policies` container in Azure. The composition root chooses which; `version`
 * changes whenever the content may have, so readers skip unchanged reloads.
 */
export interface ConfigDocument {
  read(): Promise<{ doc: unknown; version: string } | undefined>;
}

/** Every adapter the use cases may be given. */
export interface Services {
  enrollments: EnrollmentsPort;
  hubs: HubDirectory;
  store: DocumentStore;
  events: EventsPort;
  queues: QueuePort;
  blobs: BlobsPort;
}

/** Each service on first use; the same instance afterwards (the webhook's cold start loads only the SDKs it uses). */
export type LazyServices = { [K in keyof Services]: () => Promise<Services[K]> } & {
  /** Only the import routes and their validation use it; not part of `Services`, which tools and tests build whole. */
  stagedFiles: () => Promise<StagedFilesPort>;
};

/**
 * Operational figures for Azure Monitor (OpenTelemetry metrics, shared/azure/metrics.ts). Calls cost a counter
 * increment; where no exporter is configured (tests, the local stack) they record nothing.
 */
export interface MetricsPort {
  /** One webhook decision: `allocate` (with its rule and hub), `deny`, `invalid` or `unavailable`. */
  allocation(decision: { outcome: string; rule?: string; hub?: string; latencyMs: number }): void;
  /** Import rows settled in DPS, by maker and outcome. */
  importRows(manufacturerId: string, status: 'enrolled' | 'alreadyEnrolled' | 'failed', rows: number): void;
  /** Where an incident's step stands (items done of all). */
  incidentProgress(incidentId: string, step: string, done: number, total: number): void;
}
