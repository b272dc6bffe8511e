"""The `decision-screen` command line. The screening itself lives in model/ (no web or training
code), training in training/, the HTTP service in api/; this package joins their commands."""
