"""Environments: the host Python, or a virtual environment built once per environment hash and cached."""
import fcntl
import json
import os
import re
import shutil
import subprocess
import time

from . import procs
from .errors import Canceled, TaskError

READY = '.lapis-ready'
MAX_MINOR = 20  # python3.X names tried on PATH, newest first
TAIL_LINES = 15
_HASH = re.compile(r'^[0-9a-f]{64}$')
_CLAUSE = re.compile(r'^(==|!=|<=|>=|<|>|~=|=)?\s*(\d+(?:\.\d+)*)(\.\*)?$')
_FORMS = 'write a version or range such as 3.11, 3.11.4, >=3.10 or >=3.10,<3.13'


# ------------------------------------------------------------------ python version constraints

def parse_constraint(spec):
    """The clauses of a python constraint as (op, release tuple).

    A bare version, `=` or `==` match as a prefix ("3.11" and "==3.11" accept 3.11.7, as conda's
    `python=3.11` does), `!=` excludes a prefix, `~=` is PEP 440's compatible release, and
    `<`, `<=`, `>`, `>=` compare zero-padded releases (PEP 440: "<=3.12" excludes 3.12.1).
    """
    clauses = []
    for raw in spec.split(','):
        m = _CLAUSE.match(raw.strip())
        op = m and (m.group(1) or '')
        if not m or (m.group(3) and op not in ('', '=', '==', '!=')) or (op == '~=' and '.' not in m.group(2)):
            raise TaskError('Unsupported python version constraint %r: %s.' % (spec, _FORMS))
        version = tuple(int(x) for x in m.group(2).split('.'))
        if op in ('', '=', '=='):
            clauses.append(('prefix', version))
        elif op == '!=':
            clauses.append(('not-prefix', version))
        elif op == '~=':
            clauses += [('>=', version), ('prefix', version[:-1])]
        else:
            clauses.append((op, version))
    return clauses


def satisfies(version, clauses):
    """Whether a (major, minor, micro) tuple meets every clause."""
    for op, want in clauses:
        if op == 'prefix':
            ok = version[:len(want)] == want
        elif op == 'not-prefix':
            ok = version[:len(want)] != want
        else:
            width = max(len(version), len(want))
            a = tuple(version) + (0,) * (width - len(version))
            b = tuple(want) + (0,) * (width - len(want))
            ok = {'<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b}[op]
        if not ok:
            return False
    return True


def interpreter_version(exe):
    """The (major, minor, micro) of an interpreter, or None when it does not run (e.g. a pyenv shim
    for a version that is not installed)."""
    try:
        out = subprocess.run([exe, '-I', '-S', '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.decode('ascii', 'replace').strip()
    if out.returncode != 0 or not re.match(r'^\d+\.\d+\.\d+$', text):
        return None
    return tuple(int(x) for x in text.split('.'))


def find_interpreter(constraint, host_python, env_name):
    """(path, version) of the first interpreter meeting the constraint: LAPIS_PYTHON, then
    python3.X on PATH from the newest X down."""
    clauses = parse_constraint(constraint) if constraint else []
    candidates = [('LAPIS_PYTHON', host_python)] if host_python else []
    # Only minors that some 3.minor.micro could satisfy are worth running.
    minors = [m for m in range(MAX_MINOR, 5, -1) if any(satisfies((3, m, micro), clauses) for micro in range(50))]
    for minor in minors:
        exe = shutil.which('python3.%d' % minor)
        if exe:
            candidates.append(('python3.%d on PATH' % minor, exe))
    looked = []
    for where, exe in candidates:
        version = interpreter_version(exe)
        if version and satisfies(version, clauses):
            return exe, version
        looked.append('%s %s (%s)' % (where, exe, '.'.join(map(str, version)) if version else 'does not run'))
    if minors:
        looked.append('no other python3.%d to python3.%d on PATH' % (minors[-1], minors[0]))
    raise TaskError(
        'No Python interpreter satisfies python %r of environment %s. Looked at: %s. Fix: install a '
        'matching Python on this machine and put it on the executor\'s PATH as python3.X (or point '
        'LAPIS_PYTHON at it), or change the environment\'s python version.'
        % (constraint, env_name, '; '.join(looked) or 'nothing (LAPIS_PYTHON is not set)'))


# ------------------------------------------------------------------ preparing an environment

def prepare(spec, cache_dir, host_python, job_dir, logs, interrupt):
    """Makes the task's environment ready; returns (folders to put first on PATH, VIRTUAL_ENV or None)."""
    name = spec.get('name') or (spec.get('hash') or '')[:12] or spec.get('kind')
    if spec.get('note'):
        logs.system('environment %s: %s' % (name, spec['note']))
    kind = spec.get('kind')
    if kind == 'host':
        return _host(host_python, job_dir, name, logs), None
    if kind != 'venv':
        raise TaskError('Environment %s has kind %r, which this task runner does not know (it runs host and venv): '
                        'update the Lapis installation on this machine to the server\'s version.' % (name, kind))
    digest = spec.get('hash') or ''
    if not _HASH.match(digest):
        raise TaskError('Environment %s has no valid hash (%r): the server sent a broken task; report it as a bug.' % (name, digest))
    envs = os.path.join(cache_dir, 'envs')
    root = os.path.join(envs, digest)
    ready = os.path.join(root, READY)
    started = time.monotonic()
    action = 'reused cached venv'
    if not os.path.exists(ready):
        os.makedirs(envs, exist_ok=True)
        with open(os.path.join(envs, digest + '.lock'), 'a') as lock:
            _lock(lock, name, logs, interrupt)
            if not os.path.exists(ready):  # another job may have built it while this one waited
                _build(root, spec, host_python, name, logs, interrupt)
                action = 'built venv'
    with open(ready, encoding='utf-8') as f:
        info = json.load(f)
    logs.system('environment %s: %s %s (Python %s, %d pip requirement%s) in %.1f s'
                % (name, action, digest[:12], info.get('version'), len(info.get('pip', [])),
                   '' if len(info.get('pip', [])) == 1 else 's', time.monotonic() - started))
    return [os.path.join(root, 'bin')], root


def _host(host_python, job_dir, name, logs):
    """PATH for the host Python: its folder first, and a `python` that is this interpreter, because
    commands say `python` and many systems have only `python3`."""
    folder = os.path.dirname(host_python)
    path = [folder]
    alias = os.path.join(folder, 'python')
    if not (os.path.exists(alias) and os.path.samefile(alias, host_python)):
        shim = os.path.join(job_dir, 'bin')
        os.makedirs(shim, exist_ok=True)
        if not os.path.lexists(os.path.join(shim, 'python')):
            os.symlink(host_python, os.path.join(shim, 'python'))
        path.insert(0, shim)
    logs.system('environment %s: host Python %s' % (name, host_python))
    return path


def _lock(f, name, logs, interrupt):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    logs.system('environment %s: another job on this machine is building it; waiting' % name)
    while True:
        if interrupt.wait(0.5):
            raise Canceled()
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass


def _build(root, spec, host_python, name, logs, interrupt):
    """python -m venv, pip install, then the ready marker last: a folder without it is never used."""
    exe, version = find_interpreter(spec.get('python'), host_python, name)
    pip = list(spec.get('pip') or [])
    logs.system('environment %s: building a venv with %s (Python %s): %s; output in stream build'
                % (name, exe, '.'.join(map(str, version)), ', '.join(pip) if pip else 'no pip requirements'))
    if os.path.lexists(root):
        shutil.rmtree(root)  # what a runner killed mid-build left behind
    os.makedirs(root)
    tail = ['']
    started = time.monotonic()
    try:
        with open(os.path.join(root, 'build.log'), 'w', encoding='utf-8') as build_log:
            def sink(text):
                build_log.write(text)
                build_log.flush()
                logs.write('build', text)
                tail[0] = (tail[0] + text)[-16384:]

            # Without requirements there is nothing for pip to do: skipping it saves seconds per build.
            steps = [[exe, '-m', 'venv'] + ([] if pip else ['--without-pip']) + [root]]
            if pip:
                steps.append([os.path.join(root, 'bin', 'python'), '-m', 'pip', 'install', '--disable-pip-version-check',
                              '--no-input', '--progress-bar', 'off'] + pip)
            for argv in steps:
                sink('$ %s\n' % ' '.join(argv))
                code = _run_step(argv, root, sink, interrupt)
                if code != 0:
                    what = 'pip install' if 'pip' in argv[1:3] else 'python -m venv'
                    last = '\n'.join(tail[0].rstrip('\n').split('\n')[-TAIL_LINES:])
                    raise TaskError('Building environment %s failed: %s exited with code %d. Fix the environment\'s '
                                    'python version or pip requirements (the whole log is in stream build). Last lines:\n%s'
                                    % (name, what, code, last))
        marker = {'interpreter': exe, 'version': '.'.join(map(str, version)), 'pip': pip,
                  'build_s': round(time.monotonic() - started, 1)}
        with open(os.path.join(root, READY + '.tmp'), 'w', encoding='utf-8') as f:
            json.dump(marker, f)
        os.replace(os.path.join(root, READY + '.tmp'), os.path.join(root, READY))
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _run_step(argv, cwd, sink, interrupt):
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env.pop('LAPIS_TOKEN', None)
    try:
        group = procs.Group(argv, cwd, env, sink)
    except OSError as e:
        raise TaskError('Could not start %s: %s' % (argv[0], e))
    while group.poll() is None:
        if interrupt.wait(0.1):
            procs.stop_groups([group])
            raise Canceled()
    group.finish()
    return group.proc.returncode
