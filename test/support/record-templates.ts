/**
 * Jest setup of the constructs project: keeps every template a test synthesizes with `Template.fromStack`, so that
 * test/contract/cfn-lint.test.ts lints the test stacks too. One file per distinct template (named by its hash).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { TEMPLATES_DIR } from './iam-recordings';

const fromStack = Template.fromStack.bind(Template);
Template.fromStack = (...args: Parameters<typeof Template.fromStack>): Template => {
  const template = fromStack(...args);
  const text = JSON.stringify(template.toJSON(), null, 1);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  mkdirSync(TEMPLATES_DIR, { recursive: true });
  writeFileSync(join(TEMPLATES_DIR, `${args[0].stackName}-${hash}.template.json`), text);
  return template;
};
