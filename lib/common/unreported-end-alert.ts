import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

/** Props of {@link alertOnUnreportedEnd}. */
export interface UnreportedEndAlertProps {
  readonly stateMachine: sfn.IStateMachine;
  readonly topic: sns.ITopic;
  /** `backup`, `recovery-test`, `failover`: the `workflow` field of the message. */
  readonly workflow: string;
  /** What the reader has to check or do now, e.g. which resources may remain. */
  readonly afterwards: string;
}

/**
 * An EventBridge rule that tells the topic when an execution of the state machine times out or is stopped by hand.
 * Neither reaches a `Catch`, so the run writes no report and sends no message of its own; for the recovery workflows
 * it also means the cleanup did not run. The message: `{ workflow, status, execution, afterwards }`.
 */
export function alertOnUnreportedEnd(scope: Construct, id: string, props: UnreportedEndAlertProps): events.Rule {
  return new events.Rule(scope, id, {
    description: `cdk-backup-dr: a ${props.workflow} run timed out or was aborted`,
    eventPattern: {
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [props.stateMachine.stateMachineArn] },
    },
    targets: [
      new eventsTargets.SnsTopic(props.topic, {
        message: events.RuleTargetInput.fromObject({
          workflow: props.workflow,
          status: events.EventField.fromPath('$.detail.status'),
          execution: events.EventField.fromPath('$.detail.executionArn'),
          afterwards: props.afterwards,
        }),
      }),
    ],
  });
}
