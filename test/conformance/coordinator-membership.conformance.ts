/**
 * Coordinator conformance, broker membership (migration 6): node id allocation, registration and its
 * conflicts, heartbeats that expire silent brokers, deregistration, and the membership epoch that only
 * grows. The brokers table is global to the suite's database; these tests use node ids of their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoordinatorError, type Coordinator } from '../../src/coordinator/coordinator.ts';
import { ErrorCode } from '../../src/protocol/gen/errors.ts';

const { DUPLICATE_BROKER_REGISTRATION } = ErrorCode;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function membershipConformance(x: { coordinator(): Coordinator }): void {
  const c = (): Coordinator => x.coordinator();
  const reg = (nodeId: number, incarnation: string, port: number, sessionTimeoutMs = 60_000, rack: string | null = null) =>
    c().registerBroker({ nodeId, incarnation, host: 'h', port, rack, sessionTimeoutMs });

  test('membership: allocated ids are 1001+ and unused; registration, heartbeat and deregistration move the epoch', async () => {
    const a = await c().allocateNodeId();
    const b = await c().allocateNodeId();
    assert.ok(a >= 1001 && b > a, `${a} ${b}`);
    const first = await reg(a, 'inc-a', 1, 60_000, 'az-1');
    const second = await reg(b, 'inc-b', 2);
    assert.ok(second.epoch > first.epoch);
    const view = await c().brokerHeartbeat(a, 'inc-a', 60_000);
    assert.equal(view.known, true);
    assert.equal(view.epoch, second.epoch, 'a heartbeat that changes nothing leaves the epoch');
    const mine = view.brokers.filter((x) => x.nodeId === a || x.nodeId === b);
    assert.deepEqual(mine, [{ nodeId: a, host: 'h', port: 1, rack: 'az-1' }, { nodeId: b, host: 'h', port: 2, rack: null }]);
    await c().deregisterBroker(b, 'inc-b');
    const after = await c().brokerHeartbeat(a, 'inc-a', 60_000);
    assert.ok(after.epoch > view.epoch);
    assert.ok(!after.brokers.some((x) => x.nodeId === b));
    await c().deregisterBroker(a, 'inc-a');
    const id3 = await c().allocateNodeId();
    assert.ok(id3 > b, 'ids are not reused');
  });

  test('membership: a live id at another endpoint is refused; the same endpoint (a restart) takes over', async () => {
    await reg(501, 'first', 9001);
    await assert.rejects(reg(501, 'second', 9002), (err: unknown) => err instanceof CoordinatorError && err.errorCode === DUPLICATE_BROKER_REGISTRATION && /in use/.test(err.message));
    await reg(501, 'restarted', 9001);
    const view = await c().brokerHeartbeat(501, 'first', 60_000);
    assert.equal(view.known, false, 'the old incarnation is gone');
    assert.equal((await c().brokerHeartbeat(501, 'restarted', 60_000)).known, true);
    await c().deregisterBroker(501, 'restarted');
  });

  test('membership: a broker that stops heartbeating is expired by the others\' heartbeats', async () => {
    await reg(601, 'live', 1, 300);
    await reg(602, 'silent', 2, 300);
    await sleep(150);
    await c().brokerHeartbeat(601, 'live', 300);
    await sleep(250);
    const epochBefore = (await c().brokerHeartbeat(601, 'live', 60_000)).epoch;
    const view = await c().brokerHeartbeat(601, 'live', 300);
    assert.ok(view.brokers.some((b) => b.nodeId === 601));
    assert.ok(!view.brokers.some((b) => b.nodeId === 602), 'silent broker expired');
    assert.ok(view.epoch > epochBefore);
    const silent = await c().brokerHeartbeat(602, 'silent', 300);
    assert.equal(silent.known, false, 'the expired broker learns it must register again');
    // An expired id may be registered at another endpoint.
    await reg(602, 'moved', 3, 300);
    await c().deregisterBroker(602, 'moved');
    await c().deregisterBroker(601, 'live');
  });
}
