/** Endorsement keys for demos, tests and benchmarks: real TPM2B_PUBLIC bytes of template L-1 around a random modulus. */
import { randomBytes } from 'node:crypto';

import { endorsementKeyFromRsa } from '../shared/imports/rules/tpm-public';

/** A random RSA-2048-shaped modulus (high bit set, odd): the EK parser checks shape, not primality. */
export function randomModulus(random: () => Buffer = () => randomBytes(256)): Buffer {
  const m = random();
  m[0] |= 0x80;
  m[255] |= 1;
  return m;
}

export function randomEk(): Buffer {
  return endorsementKeyFromRsa({ modulus: randomModulus(), exponent: 65537 });
}
