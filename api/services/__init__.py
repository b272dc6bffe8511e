"""The service layer: what the JSON routers and the reviewer pages both call.

Routers and pages translate HTTP into these calls and the results back into HTTP; the rules
about who may see what, and the SQL, live here (and in api/db.py), never in a router or a page."""
