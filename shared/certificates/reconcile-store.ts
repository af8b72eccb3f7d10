/**
 * What the reconciliation pass keeps between runs, as its use cases see it: its checkpoint, and the device-ID claims
 * its audit builds up page by page (Cosmos implementations in `store/`, both in the `checkpoints` container).
 */
import type { StoredDocument } from '../ports';

export interface ReconcileCheckpoint extends StoredDocument {
  phase: 'enrollments' | 'groups';
  continuationToken?: string;
  passStartedAt: string;
  passes: number;
  seenThisPass: number;
  lastPassCompletedAt?: string;
  lastPassSeen?: number;
}

/** The checkpoint's id (and partition key). */
export const RECONCILE_CHECKPOINT = 'reconcile-certificates';

/** The one checkpoint of the pass: a single writer (the timer trigger runs one at a time), so no etag. */
export interface ReconcileCheckpointRepository {
  read(): Promise<ReconcileCheckpoint | undefined>;
  save(checkpoint: ReconcileCheckpoint): Promise<ReconcileCheckpoint>;
}

/** The enrollments seen giving one explicit device ID. */
export interface DeviceIdClaim extends StoredDocument {
  deviceId: string;
  registrationIds: string[];
}

export interface DeviceIdClaimRepository {
  /** The claim on a device ID, whatever its case. */
  read(deviceId: string): Promise<DeviceIdClaim | undefined>;
  /** Writes the registration IDs seen giving the device ID (its id follows from the device ID). */
  save(deviceId: string, registrationIds: string[]): Promise<void>;
}
