// Group commit for the engine's writes. Turns played at once each ask for a small transaction; a Batch runs the
// requests that arrive while its previous transaction is in flight together, in the next one. Under light load
// a request goes alone and at once (no timer, no added latency); under heavy load one transaction carries the
// writes of many turns, which is what makes thousands of turns per second possible.

export class Batch<I, O> {
  private queue: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = [];
  private draining = false;

  /**
   * @param run writes a batch in one transaction and returns one output per input, in order.
   * @param max the most inputs one transaction carries.
   */
  constructor(
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly max = 256,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Requests made in the same turn of the event loop join the first transaction.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain() {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      try {
        const outputs = await this.run(batch.map((item) => item.input));
        for (const [i, item] of batch.entries()) item.resolve(outputs[i]!);
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // One input may be what failed the transaction (a deadlock with another writer, a value the database
        // refuses): each goes again alone, so the others are not failed with it.
        for (const item of batch) {
          try {
            item.resolve((await this.run([item.input]))[0]!);
          } catch (alone) {
            item.reject(alone);
          }
        }
      }
    }
    this.draining = false;
  }
}
