/** Findings: raised once (their id says what they are about), listed by kind, suppressed by an operator. */
export * from './list';
export * from './raise';
export * from './repository';
export * from './suppress';
