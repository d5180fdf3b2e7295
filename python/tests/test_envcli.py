"""envcli.py, started as the server starts it, building and then reusing a deployment's venv."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ENVCLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lapis_task', 'envcli.py')


class EnvCliTest(unittest.TestCase):
    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix='lapis-envcli-test-')
        self.addCleanup(shutil.rmtree, self.cache)

    def envcli(self, spec):
        env = dict(os.environ, LAPIS_CACHE_DIR=self.cache, LAPIS_PYTHON=sys.executable)
        return subprocess.run([sys.executable, '-I', '-S', ENVCLI], input=json.dumps(spec).encode(), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

    def test_builds_then_reuses(self):
        spec = {'hash': 'd' * 64, 'python': None, 'pip': [], 'name': 'azureml:empty:1'}
        first = self.envcli(spec)
        self.assertEqual(first.returncode, 0, first.stderr.decode())
        root = os.path.join(self.cache, 'envs', 'd' * 64)
        self.assertEqual(json.loads(first.stdout), {'python': os.path.join(root, 'bin', 'python'), 'reused': False})
        self.assertIn(b'-m venv --without-pip', first.stderr)
        self.assertIn(b'[lapis] environment azureml:empty:1: built venv', first.stderr)
        prefix = subprocess.run([os.path.join(root, 'bin', 'python'), '-c', 'import sys; print(sys.prefix)'],
                                stdout=subprocess.PIPE, check=True).stdout.decode().strip()
        self.assertEqual(prefix, root)

        second = self.envcli(spec)
        self.assertEqual(second.returncode, 0, second.stderr.decode())
        self.assertEqual(json.loads(second.stdout), {'python': os.path.join(root, 'bin', 'python'), 'reused': True})
        self.assertIn(b'reused cached venv', second.stderr)

    def test_failures_exit_nonzero_with_the_reason(self):
        broken = self.envcli({'hash': 'not-a-hash', 'python': None, 'pip': [], 'name': 'broken'})
        self.assertEqual((broken.returncode, broken.stdout), (1, b''))
        self.assertIn(b'Environment broken has no valid hash', broken.stderr)
        ancient = self.envcli({'hash': 'e' * 64, 'python': '<3.0', 'pip': [], 'name': 'ancient'})
        self.assertEqual(ancient.returncode, 1)
        self.assertIn(b"No Python interpreter satisfies python '<3.0'", ancient.stderr)
        garbled = self.envcli(['not', 'an', 'object'])
        self.assertEqual(garbled.returncode, 2)
        self.assertIn(b'stdin is not a valid environment', garbled.stderr)


if __name__ == '__main__':
    unittest.main()
