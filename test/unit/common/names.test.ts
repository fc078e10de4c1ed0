/** The Failover state machine name PostgresDisasterRecovery derives from a source name, and the name rule it must meet. */
import { FAILOVER_STATE_MACHINE_PREFIX, failoverStateMachineName, isStateMachineName } from '../../../lambda/common/names';

describe('failoverStateMachineName', () => {
  it('prefixes the source name', () => {
    expect(failoverStateMachineName('orders-db')).toBe(`${FAILOVER_STATE_MACHINE_PREFIX}orders-db`);
  });

  it('replaces what a state machine name cannot hold (a source name may contain ".")', () => {
    const name = failoverStateMachineName('orders.prod');
    expect(name).toBe('cdkbdr-failover-orders-prod');
    expect(isStateMachineName(name)).toBe(true);
  });

  it('keeps a long source name within 80 characters, and two long names that share a beginning apart', () => {
    const a = failoverStateMachineName(`${'a'.repeat(100)}-one`);
    const b = failoverStateMachineName(`${'a'.repeat(100)}-two`);
    expect(a).toHaveLength(80);
    expect(b).toHaveLength(80);
    expect(a).not.toBe(b);
    expect(isStateMachineName(a) && isStateMachineName(b)).toBe(true);
    expect(failoverStateMachineName(`${'a'.repeat(100)}-one`)).toBe(a);
  });

  it('names of 64 characters stay whole (the prefix plus 64 is exactly 80)', () => {
    const source = 'b'.repeat(80 - FAILOVER_STATE_MACHINE_PREFIX.length);
    expect(failoverStateMachineName(source)).toBe(`${FAILOVER_STATE_MACHINE_PREFIX}${source}`);
  });
});

describe('isStateMachineName', () => {
  it.each(['', 'a'.repeat(81), 'has space', 'has.dot', 'slash/'])('refuses %j', (name) => {
    expect(isStateMachineName(name)).toBe(false);
  });
});
