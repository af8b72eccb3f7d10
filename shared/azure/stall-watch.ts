/**
 * A stream's deadline: a stream of gigabytes cannot be given one fixed deadline, so it is abandoned when no bytes
 * moved for `stallMs` instead. The watch runs only while the service owes us bytes (a request sent, an answer being
 * read); it is set `idle` while we are the ones holding the stream (the reader's consumer busy with what it was given,
 * an upload waiting for the maker's next bytes), so a slow consumer or maker is never taken for a stalled service.
 */
export class StallWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(readonly stallMs: number) {}

  /** Given to every SDK call of the stream: aborted when the watch fires. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the stream was abandoned for moving no bytes (not for another reason). */
  get stalled(): boolean {
    return this.fired;
  }

  /** Bytes moved, or are owed from now on: the service has `stallMs` from now to move more. */
  moved(): void {
    clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort();
    }, this.stallMs);
  }

  /** Nothing is owed by the service for now: the watch waits until `moved` again. */
  idle(): void {
    clearTimeout(this.timer);
  }

  /** Ends the stream's calls now (one of them failed, or its caller gave up). */
  abort(): void {
    clearTimeout(this.timer);
    this.controller.abort();
  }

  /** The stream is over: nothing more is watched. */
  stop(): void {
    clearTimeout(this.timer);
  }
}
