"""Unit tests of the runner's pure parts: constraints, binding, hashing, log batching."""
import hashlib
import os
import tempfile
import threading
import time
import unittest

from lapis_task.env import parse_constraint, satisfies
from lapis_task.errors import ApiError, TaskError
from lapis_task.logs import LogShipper
from lapis_task.outputs import list_files, manifest_hash
from lapis_task.run import LineSink, bind_command


def ok(version, spec):
    return satisfies(tuple(int(x) for x in version.split('.')), parse_constraint(spec))


class PythonConstraintTest(unittest.TestCase):
    def test_bare_versions_match_as_prefix(self):
        self.assertTrue(ok('3.11.7', '3.11'))
        self.assertFalse(ok('3.12.0', '3.11'))
        self.assertTrue(ok('3.11.4', '3.11.4'))
        self.assertFalse(ok('3.11.5', '3.11.4'))
        self.assertTrue(ok('3.11.7', '==3.11'))
        self.assertTrue(ok('3.11.7', '=3.11'))
        self.assertTrue(ok('3.11.7', '==3.11.*'))

    def test_ranges(self):
        self.assertTrue(ok('3.10.0', '>=3.10'))
        self.assertFalse(ok('3.9.18', '>=3.10'))
        self.assertTrue(ok('3.12.3', '>=3.10,<3.13'))
        self.assertFalse(ok('3.13.0', '>=3.10, <3.13'))
        self.assertTrue(ok('3.10.1', '>3.10'))
        self.assertFalse(ok('3.12.1', '<=3.12'))  # PEP 440: 3.12.1 > 3.12
        self.assertFalse(ok('3.12.4', '!=3.12'))
        self.assertTrue(ok('3.11.4', '~=3.10'))
        self.assertFalse(ok('4.0.0', '~=3.10'))
        self.assertTrue(ok('3.10.9', '~=3.10.2'))
        self.assertFalse(ok('3.11.0', '~=3.10.2'))

    def test_unsupported_forms_say_what_works(self):
        for bad in ('python3', '>=3.10;<3.13', '~=3', '>=3.10.*', ''):
            with self.assertRaises(TaskError) as caught:
                parse_constraint(bad)
            self.assertIn('>=3.10,<3.13', str(caught.exception))


class BindCommandTest(unittest.TestCase):
    def test_binds_inputs_and_outputs_and_leaves_the_rest(self):
        command = 'python train.py --data ${{inputs.training_data}} --out ${{ outputs.model }} --x ${{search_space.lr}} $HOME'
        bound = bind_command(command, {'training_data': '/j/inputs/training_data'}, {'model': '/j/outputs/model'})
        self.assertEqual(bound, 'python train.py --data /j/inputs/training_data --out /j/outputs/model --x ${{search_space.lr}} $HOME')

    def test_unknown_placeholder_names_the_choices(self):
        with self.assertRaises(TaskError) as caught:
            bind_command('run ${{inputs.trainig_data}}', {'training_data': '/x'}, {})
        message = str(caught.exception)
        self.assertIn('${{inputs.trainig_data}}', message)
        self.assertIn('training_data', message)
        with self.assertRaises(TaskError) as caught:
            bind_command('run ${{outputs.model}}', {}, {})
        self.assertIn('(its outputs: none)', str(caught.exception))


class ManifestHashTest(unittest.TestCase):
    def test_matches_the_typescript_manifest_hash(self):
        def f(path, data):
            return {'path': path, 'sha256': hashlib.sha256(data.encode()).hexdigest(), 'size': len(data.encode())}

        files = [f('train.py', 'print(1)\n'), f('data/b.csv', 'x'), f('data/a.csv', ''), f('\uff01.txt', 'bang'), f('\U0001F600.txt', 'smile')]
        # Expected values computed with manifestHash() of src/registry/content.ts under Node 20. The last
        # two paths sort differently in UTF-16 (JavaScript) than by code point (Python's default).
        self.assertEqual(manifest_hash(files), '228598c500edc0d3e5eceb1f15f8fcd5d0a71dffbb63c718b4ba739d62173fea')
        self.assertEqual(manifest_hash(files[:3]), '25911762366af0bf128ed9840bb20c698cc86d5de295c22c94ab235d52424632')

    def test_output_folders_are_uploaded_whole(self):
        with tempfile.TemporaryDirectory() as root:
            for rel in ('.gitignore', '.git/HEAD', 'model/weights.bin', 'model/.amlignore', 'z.txt'):
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), 'w') as out:
                    out.write('*\n')
            os.symlink(root, os.path.join(root, 'model', 'loop'))  # a link back up is not followed forever
            self.assertEqual([p for p, _ in list_files(root)], ['.git/HEAD', '.gitignore', 'model/.amlignore', 'model/weights.bin', 'z.txt'])


class LogShipperTest(unittest.TestCase):
    def shipper(self, **kw):
        posts = []
        lock = threading.Lock()

        def post(stream, seq, text):
            with lock:
                posts.append((seq, stream, text, time.monotonic()))

        return LogShipper(post, echo=None, **kw), posts

    def test_seq_increases_across_streams_in_write_order(self):
        logs, posts = self.shipper(max_chunk=100)
        expected = []
        for i in range(200):
            stream = ('user', 'system', 'build')[i % 7 % 3]
            text = 'line %d of %s \u00e9\n' % (i, stream)
            expected.append((stream, text))
            logs.write(stream, text)
        logs.close()
        self.assertEqual([p[0] for p in posts], list(range(1, len(posts) + 1)))
        self.assertTrue(all(len(p[2].encode()) <= 100 for p in posts))
        # Concatenating chunks in seq order gives back every stream's text, in order.
        for stream in ('user', 'system', 'build'):
            self.assertEqual(''.join(p[2] for p in posts if p[1] == stream), ''.join(t for s, t in expected if s == stream))

    def test_big_text_is_cut_on_character_boundaries(self):
        logs, posts = self.shipper()
        text = '\u20ac' * 50000  # 150 000 UTF-8 bytes
        logs.write('user', text)
        logs.close()
        self.assertEqual([len(p[2].encode()) for p in posts], [65535, 65535, 18930])
        self.assertEqual(''.join(p[2] for p in posts), text)

    def test_text_leaves_within_the_interval(self):
        logs, posts = self.shipper(interval=0.25)
        started = time.monotonic()
        logs.write('user', 'hello\n')
        logs.write('user', 'world\n')
        while not posts and time.monotonic() - started < 2:
            time.sleep(0.01)
        self.assertEqual([p[2] for p in posts], ['hello\nworld\n'])  # batched into one chunk
        self.assertLess(posts[0][3] - started, 0.45)
        logs.close()

    def test_writes_user_text_to_the_local_file(self):
        with tempfile.TemporaryDirectory() as root:
            local = os.path.join(root, 'std_log.txt')
            logs = LogShipper(lambda *a: None, local, echo=None)
            logs.write('user', 'to the file\n')
            logs.write('system', '[lapis] not to the file\n')
            logs.close()
            with open(local) as f:
                self.assertEqual(f.read(), 'to the file\n')

    def test_stops_sending_after_an_undeliverable_chunk(self):
        calls = []

        def post(stream, seq, text):
            calls.append(seq)
            raise ApiError('unreachable')

        logs = LogShipper(post, echo=None, interval=0.01)
        logs.write('user', 'a\n')
        time.sleep(0.1)
        logs.write('user', 'b\n')
        logs.close()
        self.assertEqual(calls, [1])

    def test_node_output_goes_out_in_prefixed_whole_lines(self):
        out = []
        sink = LineSink(out.append, '[node 1] ')
        for piece in ('a\nb', 'c\n', '', 'd\n\ne'):
            sink(piece)
        self.assertEqual(out, ['[node 1] a\n', '[node 1] bc\n', '[node 1] d\n[node 1] \n'])
        sink.flush()
        self.assertEqual(out[-1], '[node 1] e\n')


if __name__ == '__main__':
    unittest.main()
