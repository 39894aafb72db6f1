"""Turn evaluated experiment folders into the paper's tables (markdown + CSV) and a quality-vs-latency plot.

    python -m sdakd_basicsr.metrics.tables experiments/cmp_* --out docs/tables/cmp

Reads ``<experiment>/evaluation/results.json`` (written by ``python -m sdakd_basicsr.metrics.evaluate``).
Experiments whose names differ only in the ``_s<seed>`` suffix are seeds of one run: the tables show mean ± std over
them and the number of seeds. The method is read from the name (the sweep and option-variant generators put it
there).

    one student table per teacher family (its ``results_table``: number, title, metrics, per-factor columns)
    T3  ablations (with the SDAKD rows of the same family and width for reference)
    T4  efficiency: parameters, MACs, latency, speed-up over the teacher
Teacher and bicubic rows come from the same evaluations. Writes ``tables.md``, ``t<number>_<family>.csv``,
``t3_ablations.csv``, ``t4_efficiency.csv`` and ``quality_latency_<family>.png``.
"""
import argparse
import csv
import json
import os
import re
import statistics
from collections import OrderedDict, defaultdict

from sdakd_basicsr.families import FAMILY_REGISTRY

#: method key (in experiment names) -> table label, in table order
LABELS = {
    'sdakd': 'SDAKD',
    'no_kd': 'no KD (teacher recipe)',
    'teacher_d': 'KD vs released teacher D',
    'teacher_d_scratch': 'KD vs full-width D (from scratch)',
    'gan_compression': 'GAN Compression-style',
    'omgd': 'OMGD-like (no D)',
    'no_supervised_stage': 'SDAKD without stage 1',
    'no_distill_stage': 'SDAKD without stage 2',
    'no_feature_kd': 'SDAKD without feature KD',
    'conv1x1_adapter': 'SDAKD, 1x1 adaptor',
    'adv_in_stage2': 'SDAKD, adversarial in stage 2',
}
METHODS = tuple(LABELS)
ABLATIONS = ('no_supervised_stage', 'no_distill_stage', 'no_feature_kd', 'conv1x1_adapter', 'adv_in_stage2')
REFERENCE_ROWS = ('teacher', 'bicubic')
ALL_METRICS = ('psnr', 'ssim', 'lpips', 'niqe', 'fid')
HIGHER_IS_BETTER = {'psnr': True, 'ssim': True, 'lpips': False, 'niqe': False, 'fid': False}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('experiments', nargs='+',
                        help='experiment folders (evaluated with python -m sdakd_basicsr.metrics.evaluate)')
    parser.add_argument('--out', required=True, help='output folder for tables.md, the CSVs and the plots')
    parser.add_argument('--tag', default='results', help='evaluation file stem (default: %(default)s)')
    parser.add_argument('--plot-metric', default='psnr', choices=sorted(HIGHER_IS_BETTER),
                        help='quality axis of the plot (default: %(default)s)')
    return parser.parse_args(argv)


def method_of(name):
    """The method key in an experiment name (longest match wins), or None."""
    for key in sorted(METHODS, key=len, reverse=True):
        if re.search(rf'(^|_){re.escape(key)}(_|$)', name):
            return key
    return None


def load_results(folders, tag):
    results = []
    for folder in folders:
        path = os.path.join(folder, 'evaluation', f'{tag}.json')
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path} is missing: run python -m sdakd_basicsr.metrics.evaluate {folder} first')
        with open(path) as handle:
            result = json.load(handle)
        result['method'] = method_of(result['experiment']) or ('sdakd' if 'sdakd' in result['experiment'] else None)
        result['group'] = re.sub(r'_s\d+$', '', result['experiment'])
        results.append(result)
    return results


def fmt(values, digits=None):
    """'mean ± std' (std over seeds; '±' left out for one value); '–' when nothing was measured."""
    values = [v for v in values if v is not None]
    if not values:
        return '–'
    mean = statistics.fmean(values)
    digits = digits if digits is not None else (4 if abs(mean) < 1 else 2)
    if len(values) == 1:
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}'


def mean_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def human(count):
    return '–' if count is None else f'{count / 1e9:.2f} G' if count >= 1e9 else f'{count / 1e6:.2f} M'


def groups_of(results):
    """OrderedDict group -> list of seed results, ordered by family, width (widest first), method order."""
    grouped = defaultdict(list)
    for result in results:
        grouped[result['group']].append(result)
    order = list(METHODS)

    def key(item):
        first = item[1][0]
        return (first['family'], -(first.get('width') or 0), order.index(first['method'])
                if first['method'] in order else len(order), item[0])
    return OrderedDict(sorted(grouped.items(), key=key))


def row_values(seed_results, row, set_factor, metric):
    out = []
    for result in seed_results:
        for r in result['rows']:
            if r['row'] == row and (r['set'], r['factor']) == set_factor:
                out.append(r.get(metric))
    return out


def label(seed_results):
    first = seed_results[0]
    name = LABELS.get(first['method'], first['group'])
    return f'{name} @ {first["width"]:g}' if first.get('width') else name


def sets_of(results):
    seen = OrderedDict()
    for result in results:
        for s in result['sets']:
            seen[(s['name'], s['factor'])] = s
    return list(seen)


def student_table(results, family, metrics, per_set_columns):
    """Rows: teacher, bicubic, then every (method, width) group; per set (factor) metric columns."""
    family_results = [r for r in results if r['family'] == family]
    if not family_results:
        return None, None
    sets = sets_of(family_results)
    headers = ['method', 'seeds', 'iters']
    for set_name, factor in sets:
        prefix = f'x{factor} ' if per_set_columns else ''
        headers += [f'{prefix}{m.upper()}{" ↑" if HIGHER_IS_BETTER[m] else " ↓"}' for m in metrics]
    headers += ['params', 'MACs']
    table = []
    for ref in REFERENCE_ROWS:
        cells = [ref, '–', '–']
        for set_factor in sets:
            cells += [fmt(row_values(family_results[:1], ref, set_factor, m)) for m in metrics]
        eff = family_results[0]['efficiency'].get(ref, {})
        cells += [human(eff.get('params')), human(eff.get('macs'))]
        if any(c != '–' for c in cells[3:]):
            table.append(cells)
    for group, seed_results in groups_of(family_results).items():
        first = seed_results[0]
        cells = [label(seed_results), str(len(seed_results)), str(first.get('total_iter'))]
        for set_factor in sets:
            cells += [fmt(row_values(seed_results, 'student', set_factor, m)) for m in metrics]
        eff = first['efficiency'].get('student', {})
        cells += [human(eff.get('params')), human(eff.get('macs'))]
        table.append(cells)
    return headers, table


def ablation_table(results):
    ablations = [r for r in results if r['method'] in ABLATIONS]
    if not ablations:
        return None, None
    keys = {(r['family'], r.get('width')) for r in ablations}
    chosen = [r for r in results
              if (r['family'], r.get('width')) in keys and (r['method'] in ABLATIONS or r['method'] == 'sdakd')]
    headers = ['family', 'method', 'set', 'seeds'] + [f'{m.upper()}{" ↑" if HIGHER_IS_BETTER[m] else " ↓"}'
                                                      for m in ALL_METRICS]
    table = []
    for group, seed_results in groups_of(chosen).items():
        for set_factor in sets_of(seed_results):
            table.append([seed_results[0]['family'], label(seed_results), f'{set_factor[0]} x{set_factor[1]}',
                          str(len(seed_results))]
                         + [fmt(row_values(seed_results, 'student', set_factor, m)) for m in ALL_METRICS])
    return headers, table


def efficiency_table(results):
    headers = ['family', 'network', 'input', 'params', 'MACs', 'latency (ms)', 'speed-up vs teacher', 'measurements']
    table, seen_teacher = [], set()
    for group, seed_results in groups_of(results).items():
        first = seed_results[0]
        teacher = first['efficiency'].get('teacher')
        if teacher and first['family'] not in seen_teacher:
            seen_teacher.add(first['family'])
            teacher_lat = [r['efficiency']['teacher'].get('latency_ms') for r in results
                           if r['family'] == first['family'] and 'teacher' in r['efficiency']]
            table.append([first['family'], 'teacher', 'x'.join(map(str, teacher['input_shape'])),
                          human(teacher['params']), human(teacher['macs']), fmt(teacher_lat, 1), '1.00',
                          str(sum(v is not None for v in teacher_lat))])
        student = first['efficiency'].get('student')
        if not student:
            continue
        latencies = [r['efficiency']['student'].get('latency_ms') for r in seed_results]
        speedups = [r['efficiency']['teacher']['latency_ms'] / r['efficiency']['student']['latency_ms']
                    for r in seed_results if r['efficiency'].get('teacher', {}).get('latency_ms')
                    and r['efficiency']['student'].get('latency_ms')]
        table.append([first['family'], label(seed_results), 'x'.join(map(str, student['input_shape'])),
                      human(student['params']), human(student['macs']), fmt(latencies, 1), fmt(speedups, 2),
                      str(sum(v is not None for v in latencies))])
    return headers, table


def markdown(headers, rows):
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join('---' for _ in headers) + '|']
    return '\n'.join(lines + ['| ' + ' | '.join(row) + ' |' for row in rows])


def write_csv(path, headers, rows):
    with open(path, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)


def plot_quality_latency(results, family, metric, path):
    """One line per method across widths: student latency (x, log) against ``metric`` (y); teacher as a star."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    family_results = [r for r in results if r['family'] == family]
    set_factor = sets_of(family_results)[0]
    by_method = defaultdict(list)
    for group, seed_results in groups_of(family_results).items():
        latency = mean_or_none([r['efficiency'].get('student', {}).get('latency_ms') for r in seed_results])
        quality = mean_or_none(row_values(seed_results, 'student', set_factor, metric))
        if latency is not None and quality is not None:
            by_method[seed_results[0]['method']].append((latency, quality, seed_results[0].get('width')))
    if not by_method:
        return None
    figure, axes = plt.subplots(figsize=(6, 4.2))
    for method, points in by_method.items():
        points.sort()
        axes.plot([p[0] for p in points], [p[1] for p in points], marker='o', label=LABELS.get(method, method))
        for latency, quality, width in points:
            axes.annotate(f'{width:g}', (latency, quality), textcoords='offset points', xytext=(4, 4), fontsize=7)
    teacher_lat = mean_or_none([r['efficiency'].get('teacher', {}).get('latency_ms') for r in family_results])
    teacher_q = mean_or_none(row_values(family_results[:1], 'teacher', set_factor, metric))
    if teacher_lat is not None and teacher_q is not None:
        axes.plot([teacher_lat], [teacher_q], marker='*', markersize=12, linestyle='none', color='k', label='teacher')
    axes.set_xscale('log')
    axes.set_xlabel('latency per image (ms, log scale)')
    axes.set_ylabel(f'{metric.upper()} ({"higher" if HIGHER_IS_BETTER[metric] else "lower"} is better)')
    axes.set_title(f'{family}: {set_factor[0]} x{set_factor[1]} (labels: width)')
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def notes(results):
    lines = []
    if any(r['method'] in ('teacher_d_scratch', 'gan_compression') for r in results):
        lines.append('- "full-width D (from scratch)" and GAN Compression-style: no teacher discriminator weights '
                     'were available, so a teacher-size discriminator is trained from scratch (`sdakd.d_width: 1`).')
    unavailable = OrderedDict()
    for result in results:
        for metric, status in result['metrics_status'].items():
            if status != 'ok':
                unavailable.setdefault(metric, status)
    for metric, status in unavailable.items():
        lines.append(f'- {metric.upper()}: {status}')
    environments = {(r['environment'].get('cpu'), r['environment'].get('device'), r['environment'].get('torch_threads'))
                    for r in results}
    for cpu, device, threads in sorted(environments, key=str):
        lines.append(f'- measured on {device} ({cpu}, {threads} torch threads)')
    return lines


def make_tables(folders, out, tag='results', plot_metric='psnr'):
    results = load_results(folders, tag)
    os.makedirs(out, exist_ok=True)
    sections, written = [], []
    students = [r for r in results if r['method'] not in ABLATIONS]
    family_tables = sorted((cls.results_table['number'], name, cls.results_table)
                           for name, cls in FAMILY_REGISTRY if cls.results_table)
    specs = [(f'T{number}: {table["title"]}', f't{number}_{name}.csv',
              lambda n=name, t=table: student_table(students, n, t['metrics'], t['per_set_columns']))
             for number, name, table in family_tables]
    specs += [('T3: ablations', 't3_ablations.csv', lambda: ablation_table(results)),
              ('T4: efficiency', 't4_efficiency.csv', lambda: efficiency_table(results))]
    specs.sort(key=lambda spec: int(re.match(r'T(\d+)', spec[0]).group(1)))
    for title, file_name, build in specs:
        headers, rows = build()
        if not rows:
            continue
        sections.append(f'## {title}\n\n{markdown(headers, rows)}\n')
        write_csv(os.path.join(out, file_name), headers, rows)
        written.append(file_name)
    for family in sorted({r['family'] for r in results}):
        plot = plot_quality_latency(results, family, plot_metric, os.path.join(out, f'quality_latency_{family}.png'))
        if plot:
            sections.append(f'![quality vs latency, {family}](quality_latency_{family}.png)\n')
            written.append(os.path.basename(plot))
    text = ('# Results\n\nmean ± std over seeds (sample std); "seeds" = number of seeds; teacher and bicubic rows '
            'are deterministic.\n\n' + '\n'.join(sections) + '\n' + '\n'.join(notes(results)) + '\n')
    with open(os.path.join(out, 'tables.md'), 'w') as handle:
        handle.write(text)
    written.append('tables.md')
    return text, written


def main(argv=None):
    args = parse_args(argv)
    text, written = make_tables(args.experiments, args.out, args.tag, args.plot_metric)
    print(text)
    print(f'wrote {", ".join(written)} in {args.out}')
    return text


if __name__ == '__main__':
    main()
