/** Allocation's face to the other capabilities: the deny list's vocabulary, the parsed DPS request, and DPS's info of a certificate. */
export type { DecisionCountRepository } from './decision-counts';
export type { Parsed } from './rules/contract';
export * from './rules/deny-list';
export { infoOf, parseCertificateText } from './rules/x509-context';
