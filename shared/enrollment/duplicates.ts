/**
 * Duplicates within one file: the same EK again under the same ID is a duplicate; the same EK under another ID, or
 * one ID given to two EKs, is a conflict. The first row wins; later ones are reported with the line they repeat.
 */
import { createHash } from 'node:crypto';

import { FingerprintSet } from './fingerprint-set';
import type { RefusedRow, ValidRow } from './row';

export class FileDuplicates {
  private readonly eks = new FingerprintSet();
  private readonly ids = new FingerprintSet();

  /** The row's verdict once the earlier rows are known: the row itself, or why it is a duplicate. */
  check(row: ValidRow): ValidRow | RefusedRow {
    const ekLine = this.eks.addOrGet(Buffer.from(row.ekHash.slice(0, 16), 'hex'), row.line);
    const idLine = this.ids.addOrGet(createHash('sha256').update(row.registrationId).digest(), row.line);
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
}
