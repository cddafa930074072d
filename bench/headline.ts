// The report's headline: one line per target of every section (what, target, measured, met or not,
// and when it was measured), at the top of bench/REPORT.md and copied into README.md between
// `<!-- bench:headline -->` and `<!-- /bench:headline -->`, so that the README quotes the report of
// record and nothing else (test/bench/headline.test.ts compares them).
// `npm run docs:bench` rebuilds both from bench/REPORT.md's sections without measuring anything.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Headline, table } from './lib.js';

export const REPORT_FILE = fileURLToPath(new URL('./REPORT.md', import.meta.url));
export const README_FILE = fileURLToPath(new URL('../README.md', import.meta.url));

const OPEN = '<!-- bench:headline -->';
const CLOSE = '<!-- /bench:headline -->';
const MARKER = /^<!-- headline (\{.*\}) -->$/gm;
const SECTION_START = /^### (\w+):/m;

interface HeadlineRow extends Headline {
  section: string;
  /** When the section was measured (its run's date). */
  when: string;
}

/** The report's parts: what precedes the first section (header, headline), then each "### name:" block. */
export function splitReport(report: string): { preamble: string; sections: string[] } {
  const start = report.search(SECTION_START);
  if (start < 0) return { preamble: report.trimEnd(), sections: [] };
  const sections = report
    .slice(start)
    .split(/^(?=### \w+:)/m)
    .map((block) => block.trimEnd());
  return { preamble: report.slice(0, start).trimEnd(), sections };
}

const sectionName = (block: string) => SECTION_START.exec(block)?.[1] ?? '?';

/**
 * The whole report: this run's header and sections, or (a partial run) the previous report with
 * this run's sections replacing theirs, each marked with this run's facts, since sections measured
 * in different runs must not be compared with each other. The headline is rebuilt from every section.
 */
export function assembleReport(header: string, fresh: string[], previous: string | null): { report: string; headline: HeadlineRow[] } {
  let preamble = header;
  let sections = fresh;
  if (previous !== null) {
    const before = splitReport(previous);
    preamble = withoutHeadline(before.preamble);
    sections = before.sections;
    const runDate = dateOf(header);
    const facts = header.split('\n').slice(2).join(' ');
    for (const block of fresh) {
      const [title, ...rest] = block.split('\n');
      const marked = [title!, '', `_Measured in a separate run (${runDate} UTC): ${facts}_`, ...rest].join('\n');
      const at = sections.findIndex((existing) => sectionName(existing) === sectionName(block));
      if (at >= 0) sections[at] = marked;
      else sections.push(marked);
    }
  }
  const headline = headlineOf(preamble, sections);
  const report = `${[withHeadlineBlock(preamble, headline), ...sections].join('\n\n')}\n`;
  return { report, headline };
}

/** Every section's headline lines: its markers, or else a count of the targets its tables mark met. */
export function headlineOf(preamble: string, sections: string[]): HeadlineRow[] {
  const runDate = dateOf(preamble);
  return sections.flatMap((block) => {
    const section = sectionName(block);
    const when = /_Measured in (?:a )?separate runs? \((\d{4}-\d\d-\d\d \d\d:\d\d(?:-\d\d:\d\d)?)/.exec(block)?.[1] ?? runDate;
    const marked = [...block.matchAll(MARKER)].map((match) => JSON.parse(match[1]!) as Headline);
    if (marked.length > 0) return marked.map((line) => ({ section, when, ...line }));
    const cells = block
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .flatMap((line) => line.split('|').map((cell) => cell.trim()))
      .filter((cell) => /(^|\s)(met|NOT MET)$/.test(cell));
    if (cells.length === 0) return [{ section, when, name: 'no target marked in this section', target: '', measured: '', met: null }];
    const met = cells.filter((cell) => !cell.endsWith('NOT MET')).length;
    return [
      {
        section,
        when,
        name: 'targets marked in its tables',
        target: 'all met',
        measured: `${met} of ${cells.length} met`,
        met: met === cells.length,
      },
    ];
  });
}

/** The headline as the markdown between the markers (the same text in the report and the README). */
export function headlineBlock(headline: HeadlineRow[]): string {
  const rows = headline.map((line) => [
    line.section,
    line.name,
    line.target,
    line.measured,
    line.met === null ? '' : line.met ? 'met' : 'NOT MET',
    line.when,
  ]);
  return [OPEN, '', table(['section', 'what', 'target', 'measured', 'met', 'measured on (UTC)'], rows), '', CLOSE].join('\n');
}

/** The text between the markers (markers included); null when absent. */
export function quotedHeadline(text: string): string | null {
  const start = text.indexOf(OPEN);
  const end = text.indexOf(CLOSE, start);
  return start < 0 || end < 0 ? null : text.slice(start, end + CLOSE.length);
}

/** `text` with its headline block replaced (README.md: it must already hold the markers). */
export function replaceHeadline(text: string, headline: HeadlineRow[]): string {
  const current = quotedHeadline(text);
  if (current === null) throw new Error(`no ${OPEN} ... ${CLOSE} block to replace`);
  return text.replace(current, () => headlineBlock(headline));
}

function withHeadlineBlock(preamble: string, headline: HeadlineRow[]): string {
  return [preamble, '', 'Headline (every target of the sections below; details in each section):', '', headlineBlock(headline)].join('\n');
}

function withoutHeadline(preamble: string): string {
  const block = quotedHeadline(preamble);
  if (block === null) return preamble;
  return preamble
    .slice(0, preamble.indexOf(block))
    .replace(/\n*Headline \(every target[^\n]*\n*$/, '')
    .trimEnd();
}

const dateOf = (text: string) => /^## pgscope benchmarks, (.*?)(?: UTC)?$/m.exec(text)?.[1] ?? 'unknown date';

/** npm run docs:bench: the headline of bench/REPORT.md rebuilt from its sections, into the report and the README. */
function main(): void {
  const { preamble, sections } = splitReport(fs.readFileSync(REPORT_FILE, 'utf8'));
  const base = withoutHeadline(preamble);
  const headline = headlineOf(base, sections);
  fs.writeFileSync(REPORT_FILE, `${[withHeadlineBlock(base, headline), ...sections].join('\n\n')}\n`);
  fs.writeFileSync(README_FILE, replaceHeadline(fs.readFileSync(README_FILE, 'utf8'), headline));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
