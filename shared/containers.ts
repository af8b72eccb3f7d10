/**
 * The Cosmos DB containers of the backend and their partition keys. The local stack creates exactly these at
 * start, and a test checks that `infra/` declares the same.
 */
export interface ContainerSpec {
  name: string;
  partitionKeyPath: string;
  /** Why this container exists and why it is partitioned this way. */
  purpose: string;
  /** Some of its documents carry a `ttl` and must expire: the container needs a default TTL of -1 (on, none by default). */
  expiringItems?: boolean;
}

export const CONTAINERS = {
  policies: { name: 'policies', partitionKeyPath: '/id', purpose: 'allocation policy documents, one per name' },
  denyList: {
    name: 'denylist',
    partitionKeyPath: '/kind',
    purpose:
      'revoked identities by kind (registrationId, endorsementKey, thumbprint, issuer), with the incidents holding each',
  },
  denyLog: {
    name: 'denylog',
    partitionKeyPath: '/log',
    purpose:
      'the deny list’s change log every webhook instance follows: one logical partition, so records are seen in the order they were numbered; records expire after a week',
    expiringItems: true,
  },
  imports: {
    name: 'imports',
    partitionKeyPath: '/jobId',
    purpose: 'import jobs, their chunks and row reports: one job = one partition',
  },
  endorsementKeys: {
    name: 'endorsementKeys',
    partitionKeyPath: '/id',
    purpose: 'every EK enrolled through an import, by SHA-256: one EK, one registration ID, across files and jobs',
  },
  certificates: {
    name: 'certificates',
    partitionKeyPath: '/expiryMonth',
    purpose: 'certificate inventory, partitioned by notAfter month so a sweep reads only the months it needs',
  },
  findings: {
    name: 'findings',
    partitionKeyPath: '/kind',
    purpose: 'expiry and audit findings, raised once per horizon',
  },
  incidents: {
    name: 'incidents',
    partitionKeyPath: '/incidentId',
    purpose: 'breach incidents and the pages of devices each reaches: one incident = one partition',
  },
  holds: {
    name: 'holds',
    partitionKeyPath: '/id',
    purpose: 'what incidents disabled, with the incidents that hold it and what lifting it puts back',
  },
  audit: {
    name: 'audit',
    partitionKeyPath: '/day',
    purpose: 'append-only audit trail of every change to enrollments and hubs',
  },
  decisions: {
    name: 'decisions',
    partitionKeyPath: '/hour',
    purpose:
      'what each webhook instance decided, hour by hour (one small document per instance and hour, written once a minute), summed by the console; expires after two days',
    expiringItems: true,
  },
  checkpoints: {
    name: 'checkpoints',
    partitionKeyPath: '/id',
    purpose: 'continuation tokens and leases of long-running passes',
  },
} as const satisfies Record<string, ContainerSpec>;

/** Storage queues that drive queue-triggered workers. */
export const QUEUES = {
  importValidation: 'import-validation',
  importChunks: 'import-chunks',
  incidentSteps: 'incident-steps',
} as const;
