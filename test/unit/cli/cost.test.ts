import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { classAtAge, DEFAULT_LIFECYCLE, DEFAULT_PRICES, estimateCost, priceTableProblems, retainedAges, type CostInput } from '../../../cli/cost';
import { main } from '../../../cli/main';
import { capture } from './support';

const base: CostInput = {
  dumpGb: 10,
  databaseGb: 0,
  dailyChange: 0.02,
  retention: { daily: 7, weekly: 4, monthly: 12, yearly: 0 },
  lifecycle: DEFAULT_LIFECYCLE,
  replica: false,
  snapshots: false,
};

describe('cost model', () => {
  it('keeps one dump per distinct day of the GFS tiers', () => {
    expect(retainedAges({ daily: 7, weekly: 4, monthly: 3, yearly: 1 })).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 14, 21, 28, 30, 60, 90, 365]);
  });

  it('puts each dump in the class its age gives under the lifecycle', () => {
    expect([0, 29, 30, 119, 120, 364, 365].map((age) => classAtAge(age, DEFAULT_LIFECYCLE))).toEqual([
      'STANDARD', 'STANDARD', 'GLACIER_IR', 'GLACIER_IR', 'GLACIER', 'GLACIER', 'DEEP_ARCHIVE',
    ]);
  });

  it('prices each class from the table: 7 daily + 4 weekly + 12 monthly of 10 GB, no replica', () => {
    const estimate = estimateCost(base);
    // Ages 0-6, 7, 14, 21, 28 in STANDARD (11 dumps); 30, 60, 90 in GLACIER_IR (3); 120-360 in GLACIER (9).
    expect(estimate.lines).toEqual([
      { item: 'dumps: 11 kept', storageClass: 'STANDARD', gb: 110, usdPerMonth: 2.53 },
      { item: 'dumps: 3 kept', storageClass: 'GLACIER_IR', gb: 30, usdPerMonth: 0.12 },
      { item: 'dumps: 9 kept', storageClass: 'GLACIER', gb: 90, usdPerMonth: 0.32 },
    ]);
    expect(estimate.totalUsdPerMonth).toBe(2.97);
    expect(estimate.prices.asOf).toBe(DEFAULT_PRICES.asOf);
  });

  it('doubles the dumps for a replica and adds the transfer; snapshots are incremental with their DR copies', () => {
    const estimate = estimateCost({ ...base, replica: true, snapshots: true, databaseGb: 100 });
    const items = estimate.lines.map((l) => l.item);
    expect(items).toContain('dumps (replica): 11 kept');
    expect(estimate.lines.find((l) => l.item.startsWith('replication transfer'))).toMatchObject({ gb: 300, usdPerMonth: 6 });
    // 100 GB once + 6 days of 2 % changes = 112 GB per copy.
    expect(estimate.lines.filter((l) => l.storageClass === 'RDS')).toEqual([
      { item: 'snapshots (primary): 7 kept, incremental', storageClass: 'RDS', gb: 112, usdPerMonth: 10.64 },
      { item: 'snapshots (DR copies): 7 kept, incremental', storageClass: 'RDS', gb: 112, usdPerMonth: 10.64 },
    ]);
  });

  it('warns about early deletion where a tier is deleted before its class minimum, with the fee per dump', () => {
    // The defaults: weekly dumps are deleted at 35 days, 5 days after entering GLACIER_IR at 30 (minimum 90): 85 days
    // of 10 GB at 0.004 = 0.11 USD; monthly ones at 390 days, 25 days after entering DEEP_ARCHIVE at 365 (minimum 180).
    expect(estimateCost(base).warnings.filter((w) => w.startsWith('early deletion'))).toEqual([
      'early deletion: weekly dumps are deleted 5 days after entering GLACIER_IR (minimum 90): about 0.11 USD per deleted dump (keep them longer or archive them later)',
      'early deletion: monthly dumps are deleted 25 days after entering DEEP_ARCHIVE (minimum 180): about 0.05 USD per deleted dump (keep them longer or archive them later)',
    ]);
    // Glacier IR after 60 days and no Deep Archive: weekly dumps leave from STANDARD, monthly ones after 270 days in GLACIER.
    const fitted = estimateCost({ ...base, lifecycle: { glacierIrAfter: 60, glacierAfter: 120, deepArchiveAfter: undefined } });
    expect(fitted.warnings.filter((w) => w.startsWith('early deletion'))).toEqual([]);
  });

  it('warns that restoring an archived dump needs a Glacier restore, with its fee and delay', () => {
    expect(estimateCost(base).warnings).toEqual(expect.arrayContaining([expect.stringMatching(/in GLACIER: restoring one .* about 0\.10 USD and 5 h per dump/)]));
    expect(estimateCost({ ...base, retention: { daily: 7, weekly: 0, monthly: 0, yearly: 0 } }).warnings).toEqual([]);
  });

  it('checks a user price table', () => {
    expect(priceTableProblems(DEFAULT_PRICES)).toEqual([]);
    expect(priceTableProblems({ ...DEFAULT_PRICES, s3GbMonth: { STANDARD: -1 }, asOf: undefined })).toEqual([
      's3GbMonth.STANDARD must be a number of 0 or more',
      'asOf must say when the prices were taken (e.g. "2025-06")',
    ]);
  });
});

describe('cost command', () => {
  it('prints the table, the total with the price date, and the warnings; --json gives the same numbers', async () => {
    const io = capture();
    expect(await main(['cost', '--dump-size', '10', '--no-replica'], io)).toBe(0);
    expect(io.out()).toMatch(/dumps: 11 kept +STANDARD +110\.0 +2\.53/);
    expect(io.out()).toContain('total: 2.97 USD/month (prices: us-east-1, 2025-01)');
    expect(io.out()).toMatch(/warning: dumps older than 120 days are in GLACIER/);
    const json = capture();
    expect(await main(['cost', '--dump-size', '10', '--no-replica', '--json'], json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ totalUsdPerMonth: 2.97, prices: { asOf: '2025-01' } });
  });

  it('takes a user price table from --prices', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prices-'));
    const file = `${dir}/prices.json`;
    writeFileSync(file, JSON.stringify({ ...DEFAULT_PRICES, region: 'eu-central-1', asOf: '2026-06', s3GbMonth: { ...DEFAULT_PRICES.s3GbMonth, STANDARD: 0.0245 } }));
    const io = capture();
    expect(await main(['cost', '--dump-size', '10', '--no-replica', '--weekly', '0', '--monthly', '0', '--prices', file], io)).toBe(0);
    expect(io.out()).toMatch(/dumps: 7 kept +STANDARD +70\.0 +1\.72/);
    expect(io.out()).toContain('(prices: eu-central-1, 2026-06)');
  });
});
