/** The import's face to the other capabilities: the EK claims the certificate audits read, the job repository. */
export * from './ek-claims';
export type { ImportJobRepository } from './job-store';
