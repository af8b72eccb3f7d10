/**
 * Duplicates within one file: the same EK again under the same ID is a duplicate; the same EK under another ID, or
 * one ID given to two EKs, is a conflict. The first row wins; later ones are reported with the line they repeat.
 */
import { createHash } from 'node:crypto';

import { FingerprintSet } from './fingerprint-set';
import type { RefusedRow, ValidRow } from './row';

/** Bytes a row takes in a saved state: its EK's and its ID's fingerprints (8 bytes each) and its line. */
export const FINGERPRINT_BYTES = 20;

export class FileDuplicates {
  private readonly eks = new FingerprintSet();
  private readonly ids = new FingerprintSet();
  /** The unique rows seen since the last `takeSaved()`, as FINGERPRINT_BYTES records. */
  private unsaved: Buffer[] = [];

  /** The row's verdict once the earlier rows are known: the row itself, or why it is a duplicate. */
  check(row: ValidRow): ValidRow | RefusedRow {
    const ek = Buffer.from(row.ekHash.slice(0, 16), 'hex');
    const id = createHash('sha256').update(row.registrationId).digest().subarray(0, 8);
    const ekLine = this.eks.addOrGet(ek, row.line);
    const idLine = this.ids.addOrGet(id, row.line);
    if (ekLine === 0 && idLine === 0) {
      const record = Buffer.alloc(FINGERPRINT_BYTES);
      ek.copy(record, 0);
      id.copy(record, 8);
      record.writeUInt32BE(row.line, 16);
      this.unsaved.push(record);
    }
    if (ekLine === 0 && idLine === 0) return row;
    const base = { status: 'duplicate' as const, line: row.line, registrationId: row.registrationId };
    if (ekLine !== 0 && ekLine === idLine) return { ...base, reason: `duplicate of line ${ekLine}` };
    if (ekLine !== 0)
      return {
        ...base,
        reason: `conflict: the same endorsement key is on line ${ekLine} under another registration ID`,
      };
    return { ...base, reason: `conflict: registration ID already given to another endorsement key on line ${idLine}` };
  }

  /** What was learnt since the last call, to be saved with a checkpoint (a validation resumed later restores it). */
  takeSaved(): Buffer {
    const saved = Buffer.concat(this.unsaved);
    this.unsaved = [];
    return saved;
  }

  /** Learns again rows saved by `takeSaved()`. */
  restore(saved: Buffer): void {
    for (let at = 0; at + FINGERPRINT_BYTES <= saved.length; at += FINGERPRINT_BYTES) {
      const line = saved.readUInt32BE(at + 16);
      this.eks.addOrGet(saved.subarray(at, at + 8), line);
      this.ids.addOrGet(saved.subarray(at + 8, at + 16), line);
    }
  }
}
