"""Stand-in for the get-pip bootstrap script that ansible-test downloads from its CI file host.

That host is unreachable from our CI machines (only package registries are), so ansible-test's
virtual environments are bootstrapped from the interpreter's bundled pip (ensurepip) instead, and
then pip installs exactly what ansible-test asked for from the package index.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
# get-pip.py takes pip install arguments; the two flags below are its own.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
