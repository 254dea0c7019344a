/**
 * A librdkafka consumer-group member (classic protocol) in its own Python process
 * (test/clients/confluent_group_client.py), for client and cluster tests: its assignment, what it consumed,
 * and, with `syncCommits`, every commit it was told succeeded or failed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';

const SCRIPT = join(import.meta.dirname, '../clients/confluent_group_client.py');

export interface MemberOptions {
  sessionTimeoutMs: number;
  /** Commit each consumed chunk synchronously (no auto commit) and report the outcome. */
  syncCommits?: boolean;
  /** Called with the committed offsets (partition → offset) of each commit acknowledged. */
  onCommitted?: (offsets: Record<string, number>) => void;
  /** Called with the error of each commit that failed. */
  onCommitFailed?: (error: string) => void;
}

export class ConfluentGroupMember {
  readonly child: ChildProcess;
  /** The current assignment; null between a revoke and the next assign. */
  assigned: number[] | null = null;
  closed = false;
  readonly exited: Promise<void>;
  output = '';

  constructor(bootstrap: string, group: string, topic: string, consumed: Set<string>, options: MemberOptions) {
    const args = [SCRIPT, bootstrap, group, topic, String(options.sessionTimeoutMs), ...(options.syncCommits ? ['sync'] : [])];
    this.child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => { if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL'); });
    let buffered = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const e = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (e.event === 'assign') this.assigned = e.partitions;
        else if (e.event === 'revoke') this.assigned = null;
        else if (e.event === 'msgs') for (const v of e.values) consumed.add(v);
        else if (e.event === 'committed') options.onCommitted?.(e.offsets);
        else if (e.event === 'commit_failed') options.onCommitFailed?.(e.error);
        else if (e.event === 'closed') this.closed = true;
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  /** SIGTERM: the member commits, leaves the group and exits. */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
    assert.ok(this.closed, `member did not close cleanly: ${this.output.slice(-2000)}`);
  }
}
