"""`python -m kamim_paper.cli ...` is the same as the `kamim` command (useful under torchrun)."""
import sys

from kamim_paper.cli import main

sys.exit(main())
