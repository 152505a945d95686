"""`python -m kamim_lib.cli ...` is the same as the `kamim` command (useful under torchrun)."""
import sys

from kamim_lib.cli import main

sys.exit(main())
