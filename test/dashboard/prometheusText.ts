/**
 * A small strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every sample belongs to
 * a family declared by `# TYPE` before it, names and labels are well formed, values are numbers.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
export interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  text.split('\n').forEach((line, number) => {
    const fail = (why: string): never => {
      throw new Error(`line ${number + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('# HELP ')) {
      const [, name = '', help = ''] = /^# HELP (\S+) ?(.*)$/.exec(line) ?? fail('bad HELP');
      if (!NAME.test(name)) fail('bad metric name');
      helps.set(name, help);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name = '', type = ''] = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line) ?? fail('bad TYPE');
      if (families.has(name)) fail('family declared twice');
      families.set(name, { name, type: type as Family['type'], help: helps.get(name) ?? '', samples: [] });
      return;
    }
    if (line.startsWith('#')) return;
    const [, name = '', , labelText = '', valueText = ''] = SAMPLE.exec(line) ?? fail('bad sample');
    const family =
      families.get(name) ??
      families.get(name.replace(/_(bucket|sum|count)$/, '')) ??
      fail('sample before its # TYPE');
    if (family.type !== 'histogram' && family.type !== 'summary' && family.name !== name) fail('suffix on a plain family');
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const start = LABEL.lastIndex;
      const match = LABEL.exec(labelText) ?? fail(`bad labels at ${start}`);
      labels[match[1]!] = match[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      if (match[3] === '') break;
    }
    // Prometheus reads NaN in any case (Go's ParseFloat); prom-client writes `Nan` for an event-loop lag without samples.
    const nan = valueText.toLowerCase() === 'nan';
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : nan ? NaN : Number(valueText);
    if (!nan && Number.isNaN(value)) fail('value is not a number');
    family.samples.push({ name, labels, value });
  });
  return families;
}
