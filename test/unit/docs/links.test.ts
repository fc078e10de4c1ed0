/**
 * The documentation's relative links: every link in README.md and docs/*.md to a file of this repository points at a
 * file that exists and, when it names a heading (#anchor) of a markdown file, at a heading that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
}

/** The lines of a markdown file outside fenced code blocks. */
function proseLines(markdown: string): string[] {
  let inCode = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) inCode = !inCode;
    return !inCode && !line.startsWith('```');
  });
}

function anchorsOf(file: string): Set<string> {
  return new Set(proseLines(readFileSync(file, 'utf8')).flatMap((line) => {
    const heading = /^#{1,6} (.*)$/.exec(line);
    return heading ? [headingAnchor(heading[1])] : [];
  }));
}

const docs = ['README.md', ...(existsSync(join(ROOT, 'docs')) ? readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [])];

test('the heading anchor rule matches GitHub on the headings used here', () => {
  expect(headingAnchor('Restoring a backup, and what "verified" means')).toBe('restoring-a-backup-and-what-verified-means');
  expect(headingAnchor('Retention (RetentionPolicy, BackupRetention)')).toBe('retention-retentionpolicy-backupretention');
});

test.each(docs)('every relative link of %s resolves to a file and heading', (doc) => {
  const broken: string[] = [];
  for (const line of proseLines(readFileSync(join(ROOT, doc), 'utf8'))) {
    for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#');
      const file = path === '' ? join(ROOT, doc) : normalize(join(ROOT, dirname(doc), path));
      if (!existsSync(file)) {
        broken.push(`${target}: no file ${relative(ROOT, file)}`);
      } else if (anchor && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
        broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, file)}`);
      }
    }
  }
  expect(broken).toEqual([]);
});
