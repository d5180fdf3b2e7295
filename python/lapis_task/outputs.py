"""Outputs: each folder hashed and uploaded as content, skipped when the server already holds it."""
import hashlib
import os
import time
import urllib.parse

from .api import quote_path
from .errors import ApiError, Canceled, TaskError
from .logs import human_size

UPLOAD_THREADS = 4


def js_order(path):
    """Sort key matching JavaScript's `<` on strings (UTF-16 code units), as the server sorts:
    it differs from Python's code-point order for characters beyond U+FFFF."""
    return path.encode('utf-16-be', 'surrogatepass')


def manifest_hash(files):
    """SHA-256 over the files sorted by path, one `path\\0sha256\\0size\\n` each (src/registry/content.ts)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: js_order(f['path'])):
        h.update(('%s\0%s\0%d\n' % (f['path'], f['sha256'], f['size'])).encode('utf-8'))
    return h.hexdigest()


def hash_file(local):
    h = hashlib.sha256()
    size = 0
    with open(local, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def list_files(root):
    """(path, local) of every file under root, nothing ignored (an output is uploaded whole), symbolic
    links followed except one leading back up the tree; sorted as the server sorts."""
    found = []
    seen = {os.path.realpath(root)}

    def walk(folder, rel):
        with os.scandir(folder) as entries:
            for entry in entries:
                path = rel + entry.name
                try:
                    path.encode('utf-8')
                except UnicodeEncodeError:
                    raise TaskError('Output file %r has a name that is not valid UTF-8: rename it.' % os.path.join(folder, entry.name)) from None
                if entry.is_dir():  # follows links
                    real = os.path.realpath(entry.path)
                    if real not in seen:
                        seen.add(real)
                        walk(entry.path, path + '/')
                        seen.discard(real)
                elif entry.is_file():  # skips dangling links, sockets, fifos
                    found.append((path, entry.path))

    walk(root, '')
    return sorted(found, key=lambda f: js_order(f[0]))


def upload_output(api, name, folder, logs, interrupt):
    """Uploads one output folder; returns its result entry {hash, files}."""
    started = time.monotonic()
    local = list_files(folder)
    if not local:
        logs.system('output %s: empty, nothing uploaded' % name)
        return {'hash': None, 'files': []}
    files = []
    for path, abs_path in local:
        sha256, size = hash_file(abs_path)
        files.append({'path': path, 'sha256': sha256, 'size': size})
    digest = manifest_hash(files)
    total = sum(f['size'] for f in files)
    label = '%d file%s (%s)' % (len(files), '' if len(files) == 1 else 's', human_size(total))
    base = '/api/v1/content/' + urllib.parse.quote(digest, safe='')
    try:
        if api.json('GET', base).get('exists'):
            logs.system('output %s: %s unchanged, reusing stored content %s' % (name, label, digest[:12]))
            return {'hash': digest, 'files': files}
        from concurrent.futures import ThreadPoolExecutor  # only jobs with outputs pay for the import

        def put(item):
            (path, abs_path), f = item
            if interrupt.is_set():
                raise Canceled()
            api.upload('%s/files/%s' % (base, quote_path(path)), abs_path, f['sha256'], f['size'], interrupt=interrupt)

        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(put, zip(local, files)))
        api.json('POST', base + '/commit', {'files': files})
    except ApiError as e:
        raise TaskError('Uploading output %s failed: %s' % (name, e)) from None
    logs.system('output %s: %s uploaded as content %s in %.1f s' % (name, label, digest[:12], time.monotonic() - started))
    return {'hash': digest, 'files': files}
