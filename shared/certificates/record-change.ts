/**
 * Changing a certificate's record under its etag. A 412 says the record was written since it was read: by another
 * writer, or by this very change, whose answer was lost and which the store then sent again. Either way the record
 * is read again and the change applied to what is there now — nothing, when it is in already.
 */
import { ConflictError } from '../errors';
import type { CertificateRepository, StoredCertificate } from './inventory-store';

/** `change` answers the record as it should be, or undefined when there is nothing (left) to do. */
export async function changeRecord(
  inventory: CertificateRepository,
  record: StoredCertificate | undefined,
  change: (record: StoredCertificate) => StoredCertificate | undefined,
  attempts = 5,
): Promise<void> {
  let current = record;
  for (let attempt = 1; current; attempt++) {
    const changed = change(current);
    if (!changed) return;
    try {
      await inventory.replace(changed);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= attempts) throw err;
      current = await inventory.read(current.id, current.expiryMonth);
    }
  }
}
