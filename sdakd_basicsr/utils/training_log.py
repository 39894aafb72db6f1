"""What basicsr's training log tells: SDAKD stage iterations and wall times, seconds per iteration.

Reads lines of basicsr's logger (format ``%(asctime)s %(levelname)s: %(message)s``).
"""
import datetime
import re

_LOG_TIME = r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO: '
_STAGE_LINE = re.compile(_LOG_TIME + r"SDAKD stage (\d+)/(\d+) (starts|continues \(resumed\)) at iter (\d+): "
                         r"'([^']*)' \(iters (\d+)-(\d+)")
_END_LINE = re.compile(_LOG_TIME + r'End of training\. Time consumed: (\S+)')
_ITER_LINE = re.compile(_LOG_TIME + r'\[.*?iter:\s*([\d,]+),')


def _log_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M:%S,%f')


def stage_timings(log_text):
    """Iterations and wall time of every SDAKD stage, read from one basicsr training log.

    A stage's wall time runs from the log line of its first iteration to that of the next stage (or to "End of
    training"), so it includes the validations and checkpoints in between.

    Returns:
        dict: ``stages`` (list of dicts: index, count, name, first, last, iters (run in this log), seconds,
        resumed) and ``total`` (basicsr's "Time consumed" text or None).
    """
    stages, end, total = [], None, None
    for line in log_text.splitlines():
        match = _STAGE_LINE.match(line)
        if match:
            stamp, index, count, verb, first_run, name, first, last = match.groups()
            stages.append(dict(index=int(index), count=int(count), name=name, first=int(first), last=int(last),
                               start_iter=int(first_run), start=_log_time(stamp), resumed=verb != 'starts'))
            continue
        match = _END_LINE.match(line)
        if match:
            end, total = _log_time(match.group(1)), match.group(2)
    for stage, following in zip(stages, stages[1:] + [None]):
        stop = following['start'] if following else end
        stage['iters'] = stage['last'] - stage['start_iter'] + 1
        stage['seconds'] = (stop - stage['start']).total_seconds() if stop else None
    return {'stages': stages, 'total': total}


def logged_iteration_times(log_text):
    """``{iter: datetime}`` of every iteration the log reports (every ``logger.print_freq`` iterations)."""
    stamps = {}
    for line in log_text.splitlines():
        match = _ITER_LINE.match(line)
        if match:
            stamps[int(match.group(2).replace(',', ''))] = _log_time(match.group(1))
    return stamps


def iteration_times(log_text):
    """``{iter: seconds since the previous logged iteration}`` for consecutive iterations (``print_freq: 1``)."""
    stamps = logged_iteration_times(log_text)
    iters = sorted(stamps)
    return {b: (stamps[b] - stamps[a]).total_seconds() for a, b in zip(iters, iters[1:]) if b == a + 1}
