/**
 * A reload of state kept from the coordinator (group configs, dynamic broker configs, ACLs), coalesced: a
 * reload asked for while one runs makes that one read once more before it resolves, so notifications that
 * arrive in a burst cost at most two reads and the last one always sees the newest rows.
 */
export class CoalescedReload {
  private loading: Promise<void> | null = null;
  private again = false;

  constructor(private readonly load: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }
}
