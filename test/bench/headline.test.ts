// The benchmark report's headline: README.md quotes bench/REPORT.md's, the report's is the one its
// sections give, and a run of some sections replaces only those and rebuilds the headline.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleReport, headlineBlock, headlineOf, quotedHeadline, README_FILE, REPORT_FILE, splitReport } from '../../bench/headline.js';

const HEADER = '## pgscope benchmarks, 2026-12-07 10:00 UTC\n\nMachine: 2 cores (test CPU). PostgreSQL 18.4, Node v20.';
const marker = (line: object) => `<!-- headline ${JSON.stringify(line)} -->`;

describe('bench/REPORT.md and README.md', () => {
  const report = fs.readFileSync(REPORT_FILE, 'utf8');

  it("README.md quotes the report's headline, as it stands", () => {
    const quoted = quotedHeadline(fs.readFileSync(README_FILE, 'utf8'));
    expect(quoted).not.toBeNull();
    expect(quoted).toBe(quotedHeadline(report));
  });

  it("the report's headline is the one its sections give (run npm run docs:bench after editing a section)", () => {
    const { preamble, sections } = splitReport(report);
    expect(sections.map((block) => /^### (\w+):/.exec(block)?.[1])).toEqual(['api', 'tables', 'advisor', 'partitions', 'load']);
    expect(quotedHeadline(preamble)).toBe(headlineBlock(headlineOf(preamble, sections)));
  });
});

describe('assembleReport', () => {
  const api = [
    '### api: over HTTP',
    '',
    '| ratio | met |',
    '|---|---|',
    '| 1.1x | met |',
    marker({ name: 'p50', target: '<= 1.15x', measured: '1.10x', met: true }),
  ].join('\n');
  const advisor = [
    '### advisor: old run',
    '',
    '_Measured in a separate run (2026-12-01 07:54 UTC, advisor): ..._',
    '',
    '| a | b |',
    '|---|---|',
    '| 12x met | 1.3x NOT MET |',
  ].join('\n');

  it('opens with the header and a headline line per marker, or a count of the targets a section marks', () => {
    const { report, headline } = assembleReport(HEADER, [api, advisor, '### load: no targets\n\n| x |\n|---|\n| 1 |'], null);
    expect(report.startsWith(HEADER)).toBe(true);
    expect(headline).toEqual([
      { section: 'api', when: '2026-12-07 10:00', name: 'p50', target: '<= 1.15x', measured: '1.10x', met: true },
      {
        section: 'advisor',
        when: '2026-12-01 07:54',
        name: 'targets marked in its tables',
        target: 'all met',
        measured: '1 of 2 met',
        met: false,
      },
      { section: 'load', when: '2026-12-07 10:00', name: 'no target marked in this section', target: '', measured: '', met: null },
    ]);
    expect(quotedHeadline(report)).toBe(headlineBlock(headline));
    expect(headlineBlock(headline)).toMatch(
      /\| advisor +\| targets marked in its tables +\| all met +\| 1 of 2 met +\| NOT MET +\| 2026-12-01 07:54 +\|/,
    );
  });

  it('replaces only the sections a run measured, marked with its facts, and rebuilds the headline', () => {
    const first = assembleReport(HEADER, [api, advisor], null).report;
    const later = '## pgscope benchmarks, 2026-12-08 09:30 UTC\n\nMachine: 2 cores (test CPU). PostgreSQL 18.4, Node v20.';
    const slower = api.replace(/1\.1x \| met/, '1.3x | NOT MET').replace('"measured":"1.10x","met":true', '"measured":"1.30x","met":false');
    const { report, headline } = assembleReport(later, [slower], first);
    const { preamble, sections } = splitReport(report);
    expect(preamble.startsWith(HEADER)).toBe(true);
    expect(preamble.match(/bench:headline/g)).toHaveLength(2);
    expect(sections).toHaveLength(2);
    expect(sections[0]).toContain('_Measured in a separate run (2026-12-08 09:30 UTC): Machine: 2 cores (test CPU).');
    expect(sections[1]).toBe(advisor);
    expect(headline[0]).toMatchObject({ section: 'api', when: '2026-12-08 09:30', measured: '1.30x', met: false });
    expect(headline[1]).toMatchObject({ section: 'advisor', when: '2026-12-01 07:54' });
  });
});
