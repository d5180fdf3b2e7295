"""Code and inputs: downloaded from the server (or a URL), verified, laid out under the job folder."""
import os
import re
import shutil
import time
import urllib.parse

from .api import quote_path
from .errors import TaskError
from .logs import human_size

FOLDER_TYPES = ('uri_folder', 'mltable', 'mlflow_model', 'custom_model')
_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')


def check_name(kind, name):
    """Input and output names become folder names: keep them to one plain path segment."""
    if not _NAME.match(name):
        raise TaskError('Invalid %s name %r: use letters, digits, "_", "-" and "." only.' % (kind, name))
    return name


def safe_join(root, rel):
    """`root/rel` for a `/`-separated relative path from the server, refusing anything that could escape root."""
    parts = rel.split('/')
    if not rel or rel.startswith('/') or any(p in ('', '.', '..') or '\0' in p for p in parts):
        raise TaskError('Refusing file path %r from the server: paths must be relative, without "." or ".." segments.' % rel)
    return os.path.join(root, *parts)


def content_url(api, digest, path, registry=None):
    return api.url('/api/v1/content/%s/files/%s' % (urllib.parse.quote(digest, safe=''), quote_path(path)), {'registry': registry})


def model_url(api, name, version, path, registry=None):
    return api.url('/api/v1/models/%s/versions/%s/files/%s' % (urllib.parse.quote(str(name), safe=''),
                   urllib.parse.quote(str(version), safe=''), quote_path(path)), {'registry': registry})


def datastore_url(api, datastore, path):
    return api.url('/api/v1/datastores/%s/files/%s' % (urllib.parse.quote(datastore, safe=''), quote_path(path)))


def fetch_code(api, code, cache_dir, job_dir, logs, interrupt):
    """The job's code in LAPIS_JOB_DIR/code, copied from the machine's cache (filled once per hash)."""
    dest = os.path.join(job_dir, 'code')
    if not code:
        os.makedirs(dest)
        return dest
    started = time.monotonic()
    digest = code['hash']
    files = code.get('files') or []
    cached = safe_join(os.path.join(cache_dir, 'code'), digest)
    action = 'cached'
    if not os.path.isdir(cached):
        action = 'downloaded'
        # Fill a private folder and rename it into place, so other jobs never see half a snapshot.
        # (pid and random: runners in containers may share the cache and a pid.)
        tmp = '%s.tmp-%d-%s' % (cached, os.getpid(), os.urandom(4).hex())
        os.makedirs(tmp)
        try:
            for f in files:
                target = safe_join(tmp, f['path'])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                api.download(content_url(api, digest, f['path'], code.get('registry')), target,
                             sha256=f.get('sha256'), size=f.get('size'), interrupt=interrupt)
            try:
                os.rename(tmp, cached)
            except OSError:
                if not os.path.isdir(cached):
                    raise
                shutil.rmtree(tmp)  # another job stored the same snapshot first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    shutil.copytree(cached, dest, symlinks=True)
    logs.system('code %s: %d file%s (%s) %s and copied in %.1f s' % (
        digest[:12], len(files), '' if len(files) == 1 else 's', human_size(sum(f.get('size') or 0 for f in files)),
        action, time.monotonic() - started))
    return dest


def fetch_input(api, name, spec, job_dir, logs, interrupt):
    """Fetches one input per its mode and returns what `${{inputs.<name>}}` binds to."""
    mode = spec.get('mode') or 'ro_mount'
    kind = spec.get('type') or 'uri_folder'
    source = spec.get('source') or {}
    label = 'input %s (%s)' % (name, spec.get('uri') or source.get('kind'))
    if mode == 'direct':
        logs.system('%s: mode direct, bound as its URI' % label)
        return spec.get('uri') or source.get('url') or ''
    if mode not in ('download', 'ro_mount'):
        raise TaskError('%s: unknown input mode %r; use ro_mount, download or direct.' % (label, mode))
    if kind != 'uri_file' and kind not in FOLDER_TYPES:
        raise TaskError('%s: unknown input type %r.' % (label, kind))
    started = time.monotonic()
    folder = os.path.join(job_dir, 'inputs', check_name('input', name))
    os.makedirs(folder)
    where = source.get('kind')
    if where == 'content':
        items = [(f['path'], content_url(api, source['hash'], f['path'], source.get('registry')), f.get('sha256'), f.get('size'))
                 for f in source.get('files') or []]
    elif where == 'model':
        items = [(f['path'], model_url(api, source['name'], source['version'], f['path'], source.get('registry')), None, f.get('size'))
                 for f in source.get('files') or []]
    elif where == 'datastore':
        prefix = source.get('path') or ''
        items = [(f['path'], datastore_url(api, source['datastore'], prefix + '/' + f['path'] if prefix else f['path']), None, f.get('size'))
                 for f in source.get('files') or []]
    elif where == 'url':
        if kind != 'uri_file':
            raise TaskError('%s: a %s from a URL can only be used with mode: direct (the runner cannot list a web '
                            'folder). Set `mode: direct` on the input, or register the files as a data asset.' % (label, kind))
        file_name = urllib.parse.unquote(urllib.parse.urlsplit(source['url']).path.rstrip('/').rsplit('/', 1)[-1]) or 'data'
        items = [(file_name, source['url'], None, None)]
    else:
        raise TaskError('%s: unknown source kind %r: update the Lapis installation on this machine.' % (label, where))

    if kind == 'uri_file':
        items = _pick_file(label, items, source.get('file'))
    total = 0
    for path, url, sha256, size in items:
        # A uri_file lands as inputs/<name>/<file name>; a folder keeps its layout.
        target = safe_join(folder, path.rsplit('/', 1)[-1] if kind == 'uri_file' else path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        total += api.download(url, target, sha256=sha256, size=size, interrupt=interrupt, auth=where != 'url')[1]
    binding = target if kind == 'uri_file' else folder
    if mode == 'ro_mount':
        make_read_only(folder)
    logs.system('%s: %d file%s (%s) downloaded in %.1f s%s' % (label, len(items), '' if len(items) == 1 else 's',
                human_size(total), time.monotonic() - started, ', read-only' if mode == 'ro_mount' else ''))
    return binding


def _pick_file(label, items, wanted):
    if wanted:
        chosen = [i for i in items if i[0] == wanted]
        if not chosen:
            raise TaskError('%s: the file %r is not in its content (%d files). Point the input at an existing file.' % (label, wanted, len(items)))
        return chosen
    if len(items) != 1:
        raise TaskError('%s: a uri_file input needs exactly one file, and this source holds %d. Use type uri_folder, '
                        'or point the input at one file.' % (label, len(items)))
    return items


def make_read_only(root):
    """Files 0444 and folders 0555, bottom-up so every folder is still writable while its content changes."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for f in files:
            os.chmod(os.path.join(folder, f), 0o444)
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o555)
    os.chmod(root, 0o555)


def make_output(name, spec, job_dir):
    """Creates outputs/<name>/ empty and returns what `${{outputs.<name>}}` binds to."""
    folder = os.path.join(job_dir, 'outputs', check_name('output', name))
    os.makedirs(folder)
    return os.path.join(folder, name) if spec.get('type') == 'uri_file' else folder
