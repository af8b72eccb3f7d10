/** Watching a long job: a progress bar on a terminal, a line every few seconds otherwise (CI, logs). */
import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  done: boolean;
  percent: number;
  line: string;
}

export async function follow(poll: () => Promise<Progress>, intervalMs = 1000): Promise<void> {
  const tty = process.stdout.isTTY;
  const bar = tty
    ? new SingleBar({ format: '{bar} {percentage}% | {line}', hideCursor: true }, Presets.shades_classic)
    : undefined;
  bar?.start(100, 0, { line: '' });
  let lastPrinted = 0;
  for (;;) {
    const p = await poll();
    if (bar) bar.update(Math.floor(p.percent), { line: p.line });
    else if (p.done || Date.now() - lastPrinted > 5000) {
      console.log(`${p.percent.toFixed(1)}% ${p.line}`);
      lastPrinted = Date.now();
    }
    if (p.done) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  bar?.stop();
}
