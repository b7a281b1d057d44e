"""Command line: python -m autograder {build,grade,demo}. See autograder/README.md."""
import sys

from .cli import main

sys.exit(main())
