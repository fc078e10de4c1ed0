/**
 * Jest setup of the constructs project: keeps every template a test synthesizes with `Template.fromStack`, so that
 * test/contract/cfn-lint.test.ts lints the test stacks too. One file per distinct template of each test file
 * (`<test file>--<stack>-<hash>.template.json`); a test file's files from an earlier run are removed first.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { TEMPLATES_DIR } from './iam-recordings';

const owner = `${basename(expect.getState().testPath ?? 'unknown', '.test.ts')}--`;
mkdirSync(TEMPLATES_DIR, { recursive: true });
for (const name of readdirSync(TEMPLATES_DIR)) if (name.startsWith(owner)) rmSync(join(TEMPLATES_DIR, name), { force: true });

const fromStack = Template.fromStack.bind(Template);
Template.fromStack = (...args: Parameters<typeof Template.fromStack>): Template => {
  const template = fromStack(...args);
  const text = JSON.stringify(template.toJSON(), null, 1);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  writeFileSync(join(TEMPLATES_DIR, `${owner}${args[0].stackName}-${hash}.template.json`), text);
  return template;
};
