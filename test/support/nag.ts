import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';

/**
 * Synthesizes `app` and checks it with the AwsSolutions, HIPAA Security and NIST 800-53 R5 packs: one line per
 * unacknowledged finding, `<rule> at <construct path>`.
 */
export function nagFindings(app: App): string[] {
  app.synth();
  const packs = [new AwsSolutionsChecks(app), new HIPAASecurityChecks(app), new NIST80053R5Checks(app)];
  return packs.flatMap((pack) => pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)));
}

/**
 * The unacknowledged findings anywhere in `app` that `baseline` (the same fixture without the constructs under test)
 * does not have: what the constructs add outside their own path (a stack-level role, a rule on the database's security
 * group) counts too. Throws when the baseline has no finding at all, which would mean the packs did not run.
 */
export function nagFindingsBeyondBaseline(baseline: App, app: App): string[] {
  const before = new Set(nagFindings(baseline));
  if (before.size === 0) throw new Error('the baseline fixture has no cdk-nag finding: the packs did not run');
  return nagFindings(app).filter((line) => !before.has(line));
}
