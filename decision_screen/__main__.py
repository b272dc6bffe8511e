"""`python -m decision_screen …` runs the same app as the `decision-screen` script."""
from .cli import main

main()
