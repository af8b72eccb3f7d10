/**
 * Whether a staged file may still be validated: it is the copy pinned when the job started, and, for a maker that
 * signs its files, its signature verifies with the maker's certificates.
 */
import { type StagedFilesPort } from '../ports';
import { type JobDocument, type ValidationCheckpoint } from './job-store';
import { fileVerifier } from './rules/file-signature';

export type StagedFile = NonNullable<JobDocument['staged']>;

/** Reads the whole signed file through the maker's certificates: a tampered file fails before any row is read. */
async function signatureHolds(files: StagedFilesPort, staged: StagedFile, certificates: string[]): Promise<boolean> {
  const verifier = fileVerifier(certificates, staged.signature ?? '');
  for await (const chunk of files.read(staged.file, 0, staged.pin)) verifier.update(chunk);
  return verifier.verify();
}

/**
 * Why the staged file can no longer be validated, if it cannot: it was written after start. The pinned copy is what
 * is read either way; this tells the maker that what it wrote later was not taken, rather than enrolling the started
 * file as if nothing had happened. A job staged before files were pinned has no pin to read, so it is refused too.
 */
export async function notAsStarted(files: StagedFilesPort, staged: StagedFile): Promise<string | undefined> {
  if (!staged.pin)
    return 'the staged file was not pinned when the import started: upload it again; nothing was enrolled';
  if (await files.unchangedSince(staged.file, staged.pin)) return undefined;
  return 'the staged file changed after start: only the file as it was when the import started can be imported, and nothing of it was enrolled; send the new file as a new import';
}

/** A signed file is read whole through the maker's certificates once, before its first row: false when it does not verify. */
export async function signatureChecked(
  files: StagedFilesPort,
  staged: StagedFile,
  rules: { signingCertificates?: string[] },
  checkpoint: ValidationCheckpoint,
): Promise<boolean> {
  const certificates = rules.signingCertificates ?? [];
  if (!certificates.length || checkpoint.signatureChecked) return true;
  if (!(await signatureHolds(files, staged, certificates))) return false;
  checkpoint.signatureChecked = true;
  return true;
}
