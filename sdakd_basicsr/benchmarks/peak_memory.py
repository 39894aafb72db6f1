"""Peak resident memory and wall time of a command, e.g. a training run or the demo.

The peak is the largest RSS that any single process of the command reached (``getrusage`` of the children):
DataLoader workers and torchrun's ranks count separately, not on top of each other.

Examples:
    python -m sdakd_basicsr.benchmarks.peak_memory python -m basicsr.train -opt options/demo/<file>.yml
    python -m sdakd_basicsr.benchmarks.peak_memory --json rss.json bash scripts/demo.sh
"""
import argparse
import json
import sys

from sdakd_basicsr.utils.profiling import load_average, markdown_table, peak_rss_of


def main(argv=None):
    """Run the command, print a one-row markdown table, optionally write JSON; returns the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', default=None, metavar='OUT.json', help='also write the result to this file')
    parser.add_argument('command', nargs=argparse.REMAINDER, help='the command and its arguments')
    args = parser.parse_args(argv)
    if args.command[:1] == ['--']:
        args.command = args.command[1:]
    if not args.command:
        parser.error('give the command to measure, e.g. '
                     'python -m sdakd_basicsr.benchmarks.peak_memory python -c "pass"')
    result = peak_rss_of(args.command)
    result['load_average'] = load_average()
    print('### Peak resident memory (largest single process of the command)\n')
    print(markdown_table(['Command', 'Exit code', 'Wall (s)', 'Peak RSS (MiB)', 'Load average after'],
                         [[f"`{' '.join(result['command'])}`", result['returncode'], f"{result['wall_s']:.1f}",
                           f"{result['peak_rss_mib']:.0f}", result['load_average']]]))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == '__main__':
    sys.exit(main()['returncode'])
