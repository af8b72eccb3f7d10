/** The import's face to the other capabilities: the EK claims the certificate audits read. */
export * from './ek-claims';
