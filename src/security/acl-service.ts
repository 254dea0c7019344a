/**
 * ACLs as the broker serves them: the authorizer's cached bindings, kept current from the coordinator
 * (reloaded on every `floe_security` notification, when the security version moves — checked every few
 * seconds in case a notification was missed — and right after a change made through this broker, so the
 * next request already sees it).
 */
import { SECURITY_CHANNEL, type AclBinding, type SecurityStore } from '../coordinator/security-store.ts';
import { Authorizer, type AuthorizerSettings } from './authorizer.ts';
import { CoalescedReload } from '../coordinator/coalesced-reload.ts';

type Store = Pick<SecurityStore, 'listAcls' | 'createAcls' | 'deleteAcls' | 'securityVersion'> & {
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
};

export class AclService {
  readonly authorizer: Authorizer;
  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly reloads = new CoalescedReload(() => this.readBindings());

  constructor(settings: AuthorizerSettings, private readonly store: Store, private readonly pollMs = 5000) {
    this.authorizer = new Authorizer(settings);
  }

  /** Loads the ACLs and follows their changes (only when the authorizer is on). */
  async start(): Promise<void> {
    if (!this.authorizer.enabled) return;
    await this.reload();
    this.unlisten = await this.store.listen(SECURITY_CHANNEL, () => void this.reload(), () => void this.reload());
    this.timer = setInterval(() => {
      void this.store.securityVersion().then((v) => (v !== this.version ? this.reload() : undefined), () => undefined);
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.();
  }

  /** Reads every binding again (coalesced with a load in flight). */
  reload(): Promise<void> {
    return this.reloads.run();
  }

  private async readBindings(): Promise<void> {
    const version = await this.store.securityVersion();
    this.authorizer.setBindings(await this.store.listAcls());
    this.version = version;
  }

  async create(bindings: readonly AclBinding[]): Promise<void> {
    await this.store.createAcls(bindings);
    await this.reload();
  }

  async delete(bindings: readonly AclBinding[]): Promise<void> {
    await this.store.deleteAcls(bindings);
    await this.reload();
  }
}
