/** What a running execution's input and history name: the backups it picked. */
import { describeExecutionArn, referencedBackups } from '../../../lambda/retention/in-use';

describe('referencedBackups', () => {
  it('finds manifest keys, dump keys (as their manifest) and snapshot identifiers in execution input and history', () => {
    const manifest = 'postgres/prod/app/2024/06/30/20240630T020000.000Z.manifest.json';
    const dump = 'postgres/prod/billing/2024/06/29/20240629T020000.000Z.dump';
    // As GetExecutionHistory returns it: each event's input/output is a JSON string inside the JSON of the events.
    const history = JSON.stringify([
      { type: 'ExecutionStarted', executionStartedEventDetails: { input: JSON.stringify({ selection: { latest: true } }) } },
      { type: 'TaskSucceeded', taskSucceededEventDetails: { output: JSON.stringify({ kind: 'dump', manifestKey: manifest, dumpKey: manifest.replace('.manifest.json', '.dump') }) } },
      {
        type: 'TaskStateExited',
        stateExitedEventDetails: {
          output: JSON.stringify({ plan: { snapshotArn: 'arn:aws:rds:us-west-2:111111111111:snapshot:cdkbdr-orders-db-20240630020000', dump } }),
        },
      },
    ]);
    expect([...referencedBackups(history)].sort()).toEqual(
      [
        manifest,
        'postgres/prod/billing/2024/06/29/20240629T020000.000Z.manifest.json',
        'cdkbdr-orders-db-20240630020000',
      ].sort(),
    );
  });

  it('finds nothing in an input without backups', () => {
    expect(referencedBackups(JSON.stringify({ selection: { latest: true }, reports: 'reports/cleanup/2024/06/30/x.json' })).size).toBe(0);
  });

  it('names an execution by its name and state machine', () => {
    expect(describeExecutionArn('arn:aws:states:us-east-1:111111111111:execution:RecoveryTest1234:weekly-2024-06-30')).toBe('execution weekly-2024-06-30 of RecoveryTest1234');
  });
});
