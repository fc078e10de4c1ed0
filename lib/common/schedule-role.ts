import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgeHipaaAndNist } from './nag';

/**
 * The role EventBridge Scheduler starts one construct's state machine with. Its own role, instead of the stack-wide
 * one aws-scheduler-targets creates when none is given, keeps the permission (and its cdk-nag acknowledgement) inside
 * the construct.
 */
export function createScheduleRole(scope: Construct, id: string, description: string): iam.Role {
  const role = new iam.Role(scope, id, {
    description,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
    }),
  });
  acknowledgeHipaaAndNist(
    role,
    'IAMNoInlinePolicy',
    "The inline default policy belongs to this schedule's own role only and allows starting this one state machine; it is deleted with the role.",
  );
  return role;
}
