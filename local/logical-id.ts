/**
 * The logical id of a construct's CloudFormation resource, as the synthesized template names it: what the local
 * runner's `handlers` and `resources` are keyed by. Used by the workflow tests and the drill.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The logical id of a construct's CloudFormation resource (an L2 construct's default child, or an L1 itself). */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource as default child; pass the L1 construct`);
  }
  return Stack.of(element).resolve(element.logicalId) as string;
}
