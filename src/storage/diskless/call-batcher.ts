/**
 * Gathers the calls one request makes for its partitions into one coordinator call: the partition seam is
 * per partition, but a Fetch, ListOffsets or DeleteRecords of many diskless partitions must still cost one
 * round trip. Calls made in the same synchronous stretch (a handler's loop over its partitions) are run
 * together in a microtask, in call order; `run` answers them in that order.
 */
export class CallBatcher<Q, A> {
  private queries: Q[] = [];
  private answers: { resolve: (a: A) => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly run: (queries: Q[]) => Promise<A[]>) {}

  call(query: Q): Promise<A> {
    if (this.queries.length === 0) queueMicrotask(() => this.flush());
    this.queries.push(query);
    return new Promise((resolve, reject) => this.answers.push({ resolve, reject }));
  }

  private flush(): void {
    const queries = this.queries;
    const answers = this.answers;
    this.queries = [];
    this.answers = [];
    this.run(queries).then(
      (results) => answers.forEach((a, i) => a.resolve(results[i]!)),
      (err: unknown) => answers.forEach((a) => a.reject(err)),
    );
  }
}
