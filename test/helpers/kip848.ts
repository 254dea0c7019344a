/**
 * KIP-848 consumer group members for tests: confluent-kafka on librdkafka 2.15 (test/helpers/librdkafka.ts),
 * each member its own Python process running test/clients/kip848_client.py, with what it reports (its
 * whole current assignment, the values it consumed), and checks over several members.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';

const SCRIPT = join(import.meta.dirname, '../clients/kip848_client.py');

export class Kip848Member {
  readonly child: ChildProcess;
  assigned: number[] = [];
  closed = false;
  readonly exited: Promise<void>;
  output = '';
  /** Offsets consumed, per partition (to name the gaps when something is missing). */
  readonly offsets = new Map<number, number[]>();
  /** Assignment changes, losses and messages dropped as not assigned, with their times. */
  readonly events: string[] = [];
  /** Per partition, the last offset whose commit the coordinator acknowledged to this member. */
  readonly acknowledgedCommits = new Map<number, number>();

  constructor(bootstrap: string, group: string, topic: string, env: NodeJS.ProcessEnv, consumed: Set<string>) {
    this.child = spawn('/usr/bin/python3', [SCRIPT, bootstrap, group, topic], { stdio: ['ignore', 'pipe', 'pipe'], env });
    onCleanup(() => { if (this.alive) this.child.kill('SIGKILL'); });
    let buffered = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const e = JSON.parse(line);
        if (e.event === 'assigned') this.assigned = e.partitions;
        if (e.event === 'assigned' || e.event === 'lost' || e.event === 'dropped') this.events.push(`${Date.now()} ${line}`);
        if (e.event === 'msgs') {
          for (const v of e.values) consumed.add(v);
          for (const at of e.at ?? []) {
            const [p, o] = (at as string).split(':').map(Number);
            if (!this.offsets.has(p!)) this.offsets.set(p!, []);
            this.offsets.get(p!)!.push(o!);
          }
        }
        else if (e.event === 'commit') {
          for (const [p, o, error] of e.offsets) if (e.error === null && error === null && o >= 0) this.acknowledgedCommits.set(p, o);
          if (e.error !== null) this.events.push(`${Date.now()} ${line}`);
        }
        else if (e.event === 'closed') this.closed = true;
        else if (e.event === 'error') this.output += `${e.error}\n`;
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.output += chunk.toString(); });
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
    assert.ok(this.closed, `member did not close cleanly: ${this.output}`);
  }
}

/** Per partition, the offsets below the highest consumed that no member consumed. */
export function consumedGaps(members: Kip848Member[]): Record<number, number[]> {
  const all = new Map<number, Set<number>>();
  for (const m of members) for (const [p, os] of m.offsets) for (const o of os) (all.get(p) ?? all.set(p, new Set()).get(p)!).add(o);
  const gaps: Record<number, number[]> = {};
  for (const [p, os] of all) {
    const missing: number[] = [];
    for (let o = Math.min(...os); o < Math.max(...os); o++) if (!os.has(o)) missing.push(o);
    if (missing.length > 0) gaps[p] = missing.slice(0, 20);
  }
  return gaps;
}

/** The members own disjoint, non-empty sets of partitions that together cover the topic's `partitions`. */
export function balanced(members: Kip848Member[], partitions: number): boolean {
  const dead = members.find((m) => m.child.exitCode !== null && !m.closed);
  if (dead) throw new Error(`a member exited: ${dead.output}`);
  if (members.some((m) => m.assigned.length === 0)) return false;
  const all = members.flatMap((m) => m.assigned);
  return all.length === partitions && new Set(all).size === partitions;
}

/** No partition is owned by two live members at once (sample it while the group changes). */
export function noOverlap(members: Kip848Member[]): void {
  const all = members.filter((m) => m.alive).flatMap((m) => m.assigned);
  assert.equal(new Set(all).size, all.length, `a partition owned twice: ${JSON.stringify(members.map((m) => m.assigned))}`);
}
