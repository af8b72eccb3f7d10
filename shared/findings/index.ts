/** Findings: raised once, their id says what they are about. */
export * from './raise';
