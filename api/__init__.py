"""decision-screen HTTP service: FastAPI app, persistence, auth, jobs (see api/README_SECTION.md)."""
