import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';

type Json = Record<string, unknown>;

/** The key-policy statements of the KMS key that encrypts `topic` (a topic the construct created). */
export function topicKeyStatements(template: Template, topic: sns.ITopic): Json[] {
  const stack = Stack.of(topic);
  const topicId = stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic);
  const keyRef = template.toJSON().Resources[topicId].Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] };
  const keyId = keyRef['Fn::GetAtt'][0];
  const key = template.toJSON().Resources[keyId] as { Type: string; Properties: { KeyPolicy: { Statement: Json[] } } };
  if (key.Type !== 'AWS::KMS::Key') throw new Error(`${topicId} is not encrypted with a key of this stack`);
  return key.Properties.KeyPolicy.Statement;
}

/** The statement with `sid`, or a failure listing the sids there are. */
export function statementWithSid(statements: Json[], sid: string): Json {
  const found = statements.find((s) => s.Sid === sid);
  if (!found) throw new Error(`no key-policy statement ${sid}; there are ${statements.map((s) => String(s.Sid)).join(', ')}`);
  return found;
}
