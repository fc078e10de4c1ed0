/** Reading synthesized templates in construct tests: state machine definitions and role policies. */
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { logicalIdOf } from './workflow-harness';

export type Json = Record<string, unknown>;

export interface StateMachineDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Json>;
}

/**
 * The definition of the template's only state machine, with intrinsics rendered as `<LogicalId.Attr>` (GetAtt),
 * `<LogicalId>` (Ref) or `<token>`, so a test can name the function or topic a state calls.
 */
export function definitionOf(template: Template): StateMachineDefinition {
  const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Array<{ Properties: Json }>;
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const parts = (machines[0].Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  const render = (p: unknown): string => {
    if (typeof p === 'string') return p;
    const o = p as Json;
    if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    return '<token>';
  };
  return JSON.parse(parts.map(render).join('')) as StateMachineDefinition;
}

/** All states of a definition by name, including those nested in Parallel branches and Map processors. */
export function allStates(def: { States: Record<string, Json> }): Record<string, Json> {
  const out: Record<string, Json> = {};
  const visit = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries(states)) {
      out[name] = state;
      for (const branch of (state.Branches as Array<{ States: Record<string, Json> }> | undefined) ?? []) visit(branch.States);
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Json> } | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(def.States);
  return out;
}

/** Every statement of the policies attached to a function's role. */
export function statementsOf(template: Template, fn: lambda.IFunction): Json[] {
  const role = (fn as lambda.Function).role;
  if (!role) throw new Error(`${fn.node.path} has no role in this stack`);
  const roleId = logicalIdOf(role.node.defaultChild as never);
  // A role's policy that outgrows the inline size limit continues in overflow managed policies.
  const policies = [...Object.values(template.findResources('AWS::IAM::Policy')), ...Object.values(template.findResources('AWS::IAM::ManagedPolicy'))] as Array<{
    Properties: { Roles?: Json[]; PolicyDocument: { Statement: Json[] } };
  }>;
  return policies.filter((p) => (p.Properties.Roles ?? []).some((r) => r.Ref === roleId)).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The rule's input, the template rendered with `${Ref}` for a reference and `"<path>"` for an event field. */
export interface UnreportedEndInput {
  readonly topicArn: string;
  readonly facts: { workflow: string; what: string; source: string; afterwards: string };
  readonly detail: string;
}

/**
 * The rule {@link alertOnUnreportedEnd} made for `workflow`: the logical ids of its state machine and target function,
 * its pattern, its input (parsed) and the event paths the input takes.
 */
export function unreportedEndAlert(
  template: Template,
  workflow: string,
): { stateMachine: string; function: string; pattern: Json; input: UnreportedEndInput; inputPaths: Json; targets: number } {
  const rules = (Object.values(template.findResources('AWS::Events::Rule')) as Array<{ Properties: Json }>).filter(
    (rule) => rule.Properties.Description === `cdk-backup-dr: a ${workflow} run timed out or was aborted`,
  );
  if (rules.length !== 1) throw new Error(`expected one timed-out-or-aborted rule for ${workflow}, found ${rules.length}`);
  const { EventPattern, Targets } = rules[0].Properties as {
    EventPattern: Json;
    Targets: Array<{ Arn: { 'Fn::GetAtt': [string, string] }; InputTransformer: { InputPathsMap: Json; InputTemplate: unknown } }>;
  };
  const detail = EventPattern.detail as { stateMachineArn: Array<{ Ref: string }> };
  const render = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const join = (part as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map(render).join(join[0]);
    const ref = (part as { Ref?: string }).Ref;
    if (ref) return `\${${ref}}`;
    throw new Error(`unexpected part of the input template: ${JSON.stringify(part)}`);
  };
  const input = JSON.parse(render(Targets[0].InputTransformer.InputTemplate).replace(/:<([a-zA-Z-]+)>/g, ':"<$1>"')) as UnreportedEndInput;
  return {
    stateMachine: detail.stateMachineArn[0].Ref,
    function: Targets[0].Arn['Fn::GetAtt'][0],
    pattern: EventPattern,
    input,
    inputPaths: Targets[0].InputTransformer.InputPathsMap,
    targets: Targets.length,
  };
}
