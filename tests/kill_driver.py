"""Training runs killed with SIGKILL at random moments and continued with ``--auto_resume``, in forked children.

Importing torch and basicsr takes seconds, so the driver imports once and forks one child per attempt (the
parent runs no torch operation, so the children start clean). Each child runs the literal training entry
(``sdakd_basicsr.train.main`` with ``-opt ... --auto_resume``); the parent kills it after a random delay, or the
child kills itself in the middle of (or right after) a random checkpoint file it writes.
"""
import io
import os
import signal
import time
import traceback

from forked_training import enter_as_new_process
from sdakd_basicsr.utils.checkpoint import saved_states


def _child(root, argv, self_kill):
    """Runs in the forked process; never returns."""
    code = 1
    try:
        enter_as_new_process(root, argv, one_thread=True)  # also the uninterrupted reference: same arithmetic
        if self_kill is not None:
            _arm_self_kill(*self_kill)
        import sdakd_basicsr.train
        sdakd_basicsr.train.main(root)
        code = 0
    except BaseException:  # noqa: B902  (report anything, then leave without running the parent's cleanup)
        with open(os.path.join(root, 'child_error.txt'), 'a') as handle:
            handle.write(traceback.format_exc())
    finally:
        os._exit(code)


def _arm_self_kill(nth_save, where, fraction):
    """SIGKILL this process in the ``nth_save``-th checkpoint file write: ``mid`` (after ``fraction`` of its
    bytes reached the temporary file) or ``after`` (once the file is complete)."""
    import torch
    real_save = torch.save
    calls = [0]

    def save(obj, f, *args, **kwargs):
        calls[0] += 1
        if calls[0] != nth_save or where == 'after' or isinstance(f, (str, os.PathLike)):
            real_save(obj, f, *args, **kwargs)
            if calls[0] == nth_save:
                os.kill(os.getpid(), signal.SIGKILL)
            return
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[:int(len(data) * fraction)])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save


def train_until_done(root, argv, rng, kills, max_delay, first_state, timeout=300):
    """Start training (forked) again and again, killing it ``kills`` times, then let it finish.

    Args:
        root (str): Working directory (data, teacher and experiments under it).
        argv (list[str]): Arguments of the training command.
        rng (random.Random): Draws the kill moments.
        kills (int): How many attempts are killed.
        max_delay (float): Longest random delay before the parent kills an attempt (seconds after start).
        first_state (str): A training-state folder: the first attempt is killed only once a complete state
            (``<iter>.state``) is there, so the next attempt has one to resume from (BasicSR archives an
            experiment folder without any state, by a name with one-second resolution). A state still being
            written shows only as a temporary file, which does not count.
        timeout (float): Give up (assertion) after this long.

    Returns:
        dict: ``killed`` (attempts that died of SIGKILL), ``self_killed`` (of those, during or right after a
        checkpoint write), ``attempts``, ``seconds``.
    """
    import basicsr.train  # noqa: F401  (imported once here: the children start from the forked modules)
    import sdakd_basicsr.train  # noqa: F401
    killed = self_killed = attempts = 0
    start = time.monotonic()
    while True:
        attempts += 1
        assert time.monotonic() - start < timeout, f'no finished run after {attempts} attempts'
        kill_now = killed < kills
        self_kill = None
        if kill_now and attempts > 1 and rng.random() < 0.5:
            self_kill = (rng.randint(1, 5), rng.choice(['mid', 'mid', 'after']), rng.random())
        pid = os.fork()
        if pid == 0:
            _child(root, argv, self_kill)
        if kill_now and self_kill is None:
            while attempts == 1 and not saved_states(first_state):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    raise AssertionError(_error(root, 'the first attempt ended before any state'))
                time.sleep(0.01)
            time.sleep(rng.uniform(0, max_delay))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            killed += 1
            self_killed += self_kill is not None
            continue
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:  # finished (possibly before its kill came)
            return {'killed': killed, 'self_killed': self_killed, 'attempts': attempts,
                    'seconds': time.monotonic() - start}
        raise AssertionError(_error(root, f'attempt {attempts} failed with status {status}'))


def _error(root, what):
    path = os.path.join(root, 'child_error.txt')
    return what + ':\n' + (open(path).read()[-4000:] if os.path.exists(path) else '(no traceback)')
