"""``python -m stablenets`` is the ``stablenets`` command (also under torchrun: ``torchrun -m stablenets``)."""
import sys

from stablenets.cli import main

sys.exit(main())
