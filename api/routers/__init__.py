"""One router per resource: screen, jobs, feedback, meta (profiles, model), health."""
