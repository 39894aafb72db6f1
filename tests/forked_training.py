"""Several tiny trainings through the literal training entry, in children forked from one process.

Importing torch, torchvision and basicsr costs seconds per ``python -m basicsr.train``, more than a tiny run
itself. :func:`train_forked` starts this file once as a driver process: it imports the training entry, runs no
torch operation, then forks one child per run; each child sets the working directory and ``sys.argv`` as the
command would and calls what ``python -m basicsr.train`` calls once the plugin is installed
(``sdakd_basicsr.train.basicsr_train_main``). The literal command itself stays covered by the tests that run it
in a subprocess (test_train_cli.py, test_sdakd_gcfsr.py).
"""
import json
import os
import subprocess
import sys
import tempfile
import traceback

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_forked(runs, jobs=2, timeout=900):
    """Run each ``(root, argv)`` of ``runs`` like ``python -m basicsr.train <argv>`` in working directory ``root``.

    Args:
        runs (list[tuple[str, list[str]]]): Working directory and command-line arguments of each run.
        jobs (int): Runs at a time (each then uses one torch thread); 1 runs them one after another with
            torch's default threads.
        timeout (float): Seconds for all runs together.

    Returns:
        list[dict]: Per run, ``returncode`` (0 when training finished) and ``output`` (its stdout and stderr,
        with the traceback of a failure).
    """
    with tempfile.TemporaryDirectory(prefix='sdakd-forked-') as tmp:
        spec = [{'root': root, 'argv': list(argv), 'output': os.path.join(tmp, f'{i}.txt')}
                for i, (root, argv) in enumerate(runs)]
        spec_file = os.path.join(tmp, 'runs.json')
        with open(spec_file, 'w') as handle:
            json.dump({'runs': spec, 'jobs': jobs}, handle)
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)  # this checkout's package, whatever is installed
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), spec_file], env=env, capture_output=True,
                              text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        with open(spec_file + '.codes') as handle:
            codes = json.load(handle)
        results = []
        for run, code in zip(spec, codes):
            with open(run['output']) as handle:
                results.append({'returncode': code, 'output': handle.read()})
        return results


def enter_as_new_process(root, argv, one_thread):
    """In a forked child: what a new ``python -m basicsr.train <argv>`` process in ``root`` would start with.

    The working directory, ``sys.argv``, an empty TORCH_HOME (offline: no weights to find), basicsr's logger not
    yet set up (each run writes its own log file), and with ``one_thread`` one torch thread (no OpenMP pool
    shared with other children, the same arithmetic in every run).
    """
    os.chdir(root)
    sys.argv = [os.path.join('basicsr', 'train.py')] + list(argv)
    os.environ['TORCH_HOME'] = os.path.join(root, 'empty_torch_home')
    import logging

    import torch
    from basicsr.utils import logger as basicsr_logger
    if one_thread:
        torch.set_num_threads(1)
    basicsr_logger.initialized_logger.clear()
    logging.getLogger('basicsr').handlers.clear()


def _child(run, one_thread):
    """Runs in the forked process; never returns."""
    code = 1
    try:
        out = os.open(run['output'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        enter_as_new_process(run['root'], run['argv'], one_thread)
        import sdakd_basicsr.train
        sdakd_basicsr.train.basicsr_train_main()
        code = 0
    except BaseException:  # noqa: B902  (report anything, then leave without running the driver's cleanup)
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _drive(spec_file):
    with open(spec_file) as handle:
        spec = json.load(handle)
    import basicsr.train  # noqa: F401  (imported once here: the children start from the forked modules)

    import sdakd_basicsr.train  # noqa: F401
    runs, jobs = spec['runs'], max(1, spec['jobs'])
    codes = [None] * len(runs)
    running = {}
    next_run = 0
    while next_run < len(runs) or running:
        while next_run < len(runs) and len(running) < jobs:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(runs[next_run], jobs > 1)
            running[pid] = next_run
            next_run += 1
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    with open(spec_file + '.codes', 'w') as handle:
        json.dump(codes, handle)


if __name__ == '__main__':
    _drive(sys.argv[1])
