/**
 * Remembers which keys (EKs, registration IDs) a file has already used, and on which line, in 12 bytes per slot:
 * a 64-bit fingerprint and the line. A JavaScript Set of the keys themselves would take ~100 bytes a row; this keeps
 * a million-row file's duplicate check at ~24 MB (two sets at ≤ 50 % load). Fingerprints are the first 8 bytes of a
 * SHA-256: a false "duplicate" among a million rows has odds of about 1 in 30 million.
 */
export class FingerprintSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private lines: Uint32Array;
  private count = 0;

  constructor(initialCapacity = 1 << 12) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Records `digest` (≥ 8 bytes) at `line` (≥ 1); answers the earlier line if it was already there, else 0. */
  addOrGet(digest: Uint8Array, line: number): number {
    const hi = ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
    const lo = ((digest[4] << 24) | (digest[5] << 16) | (digest[6] << 8) | digest[7]) >>> 0 || 1; // 0/0 marks an empty slot
    const mask = this.hi.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      if (this.lines[i] === 0) {
        this.hi[i] = hi;
        this.lo[i] = lo;
        this.lines[i] = line;
        if (++this.count * 2 > this.hi.length) this.grow();
        return 0;
      }
      if (this.hi[i] === hi && this.lo[i] === lo) return this.lines[i];
    }
  }

  private grow(): void {
    const { hi, lo, lines } = this;
    const capacity = hi.length * 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.lines = new Uint32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < hi.length; j++) {
      if (lines[j] === 0) continue;
      let i = lo[j] & mask;
      while (this.lines[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = hi[j];
      this.lo[i] = lo[j];
      this.lines[i] = lines[j];
    }
  }
}
