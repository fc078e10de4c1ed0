import { onFargateRunner, timeLimitReason } from '../../../lambda/common/runner';
import { handlerTimeMs } from '../../../lambda/runner/task';

describe('the time-limit message of a dump or restore, by runner', () => {
  it('on Lambda (no RUNNER_HANDLER) says to move to Fargate or add memory', () => {
    expect(onFargateRunner({})).toBe(false);
    expect(timeLimitReason('dump', 60, {})).toBe(
      'the Lambda function was about to time out (60 s left) before the dump finished; run it on BackupRunner.fargate({ ... }) ' +
        '(no 15-minute limit) or give the function more memory (more CPU)');
  });

  it('on the Fargate runner (RUNNER_HANDLER set by its task definition) says to raise the task timeout or cpu', () => {
    expect(onFargateRunner({ RUNNER_HANDLER: 'restore' })).toBe(true);
    expect(timeLimitReason('restore', 30, { RUNNER_HANDLER: 'restore' })).toBe(
      'the Fargate task was about to reach its timeout (30 s left) before the restore finished; raise BackupRunner.fargate({ timeout }) or give the task more cpu');
    expect(onFargateRunner({ RUNNER_HANDLER: '' })).toBe(false);
  });
});

describe('the Fargate task\'s clock', () => {
  it('keeps time for the container\'s start out of the handler\'s: a quarter of the state\'s timeout, at most 5 minutes', () => {
    expect(handlerTimeMs(8 * 3600_000)).toBe(8 * 3600_000 - 300_000);
    expect(handlerTimeMs(20 * 60_000)).toBe(15 * 60_000);
    expect(handlerTimeMs(5 * 60_000)).toBe(225_000);
  });
});
