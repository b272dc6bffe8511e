"""Where each corpus item was read: the class of its source host, and the mirror rewrite.

Why this exists: a review found that only about a third of the real items cited a government
host. Others cited an e-book site, or gambling-style and other unrelated domains that serve
copies of government pages under the government's own path. corpora/GUIDELINES.md
("Provenance") asks for the official page in `source_url`, the copying site in `read_at`, and
no item whose only source is an unrelated site. The host classes are data, kept in
corpora/source_hosts.yaml; this module only reads them.

    decision-screen corpus provenance            # counts per class, unlisted hosts
    decision-screen corpus provenance --apply    # rewrite mirror items, drop unrelated-only items
    python -m training.provenance [--apply]      # the same without the CLI

Classes: government, official_media, mirror (a copy whose official host is recorded),
unrelated, empty (written/derived items without a URL), and unlisted (a host the YAML does not
name yet: reported, never rewritten or dropped). A derived item (`derived_from`) keeps its
original's provenance: it follows its original's rewrite, and goes when its original goes.

The rule is about `source_url` only. `read_at` records where the page was actually read and may
be any host at all: a mirror, an unresolved copy, or an unrelated site (an item restored after its
official page was found keeps the unrelated page it was first read at in `read_at`). Nothing here
classes, rewrites or drops an item because of its `read_at`; an item is kept when its
`source_url` is government or official media (see `source_is_official`).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
HOSTS_FILE = ROOT / "corpora" / "source_hosts.yaml"
CORPUS_DIR = ROOT / "corpora" / "items"
CLASSES = ("government", "official_media", "mirror", "unrelated", "empty", "unlisted")
KEPT_CLASSES = ("government", "official_media")


@dataclass(frozen=True)
class HostTable:
    """The contents of source_hosts.yaml: suffix rules, listed hosts, and each mirror's official host."""
    suffixes: dict[str, tuple[str, ...]]
    hosts: dict[str, str]
    official: dict[str, str | None] = field(default_factory=dict)


def load_hosts(path: Path = HOSTS_FILE) -> HostTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    suffixes = {cls: tuple(s.lower() for s in names) for cls, names in (data.get("suffixes") or {}).items()}
    hosts: dict[str, str] = {}
    for cls in ("government", "official_media", "unrelated"):
        for host in (data.get("hosts") or {}).get(cls) or ():
            hosts[host.lower()] = cls
    official = {}
    for host, target in ((data.get("hosts") or {}).get("mirror") or {}).items():
        hosts[host.lower()] = "mirror"
        official[host.lower()] = target.lower() if target else None
    return HostTable(suffixes, hosts, official)


def host_of(url: str | None) -> str | None:
    """The lower-case host of a URL; a URL written without its scheme still has one."""
    if not url:
        return None
    parts = urlsplit(url if "//" in url else "//" + url)
    return (parts.hostname or "").lower() or None


def classify_host(host: str | None, table: HostTable) -> str:
    if not host:
        return "empty"
    if host in table.hosts:
        return table.hosts[host]
    for cls, names in table.suffixes.items():
        if any(host == s or host.endswith("." + s) for s in names):
            return cls
    return "unlisted"


def classify_item(rec: dict, table: HostTable) -> str:
    return classify_host(host_of(rec.get("source_url")), table)


def source_is_official(rec: dict, table: HostTable) -> bool:
    """The provenance rule for one item with a URL: its `source_url` is a government or official-media
    page. `read_at` is not looked at: it may be any host (see the module docstring)."""
    return classify_item(rec, table) in KEPT_CLASSES


def official_url(url: str, table: HostTable) -> str | None:
    """The official page a mirror URL copies: the same path on the recorded official host."""
    target = table.official.get(host_of(url) or "")
    if not target:
        return None
    parts = urlsplit(url if "//" in url else "http://" + url)
    return urlunsplit((parts.scheme or "http", target, parts.path, parts.query, parts.fragment))


def resolve(rec: dict, table: HostTable) -> dict | None:
    """One original item after the provenance rule: unchanged, rewritten, or None (dropped)."""
    cls = classify_item(rec, table)
    if cls == "mirror":
        url = official_url(rec["source_url"], table)
        if url is None:
            return None
        return {**rec, "source_url": url, "read_at": rec["source_url"]}
    if cls == "unrelated":
        return None
    return rec


def follow_original(rec: dict, original: dict | None) -> dict | None:
    """A derived item keeps its original's provenance, and goes when its original goes."""
    if original is None:
        return None
    out = {**rec, "source_url": original.get("source_url")}
    if original.get("read_at"):
        out["read_at"] = original["read_at"]
    else:
        out.pop("read_at", None)
    return out


def apply_rule(records: list[dict], table: HostTable) -> tuple[list[dict], list[dict], list[dict]]:
    """(kept, rewritten, dropped) for a whole corpus, originals first, then derived items."""
    resolved = {r["id"]: resolve(r, table) for r in records if not r.get("derived_from")}
    kept, rewritten, dropped = [], [], []
    for rec in records:
        parent = rec.get("derived_from")
        if not parent:
            new = resolved[rec["id"]]
        elif parent in resolved:
            new = follow_original(rec, resolved[parent])
        else:
            new = rec  # an original outside this corpus: `corpus check` reports the dangling link
        if new is None:
            dropped.append(rec)
            continue
        kept.append(new)
        if new != rec:
            rewritten.append(new)
    return kept, rewritten, dropped


def read_items(directory: Path = CORPUS_DIR) -> dict[Path, list[dict]]:
    return {p: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
            for p in sorted(directory.glob("*.jsonl"))}


def report(records: list[dict], table: HostTable) -> dict:
    """Counts per class of `source_url` (with how many of them carry a `read_at`), the classes of the
    `read_at` hosts themselves (any host is allowed there), and the hosts the YAML does not name."""
    classes = Counter(classify_item(r, table) for r in records)
    read_at = Counter(classify_item(r, table) for r in records if r.get("read_at"))
    read_at_hosts = Counter(classify_host(host_of(r["read_at"]), table) for r in records if r.get("read_at"))
    unlisted = Counter(host_of(r.get("source_url")) for r in records if classify_item(r, table) == "unlisted")
    return {"items": len(records), "classes": {c: classes.get(c, 0) for c in CLASSES},
            "read_at_a_mirror": dict(read_at), "read_at_host_classes": dict(read_at_hosts.most_common()),
            "unlisted_hosts": dict(unlisted.most_common())}


def apply_to_files(table: HostTable, directory: Path = CORPUS_DIR, skip: tuple[str, ...] = ()) -> dict:
    """Rewrite the corpus files in place (files named in `skip` are read but never written)."""
    files = read_items(directory)
    kept, rewritten, dropped = apply_rule([r for recs in files.values() for r in recs], table)
    by_id = {r["id"]: r for r in kept}
    for path, recs in files.items():
        if path.name in skip:
            continue
        new = [by_id[r["id"]] for r in recs if r["id"] in by_id]
        if new != recs:
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in new), encoding="utf-8")
    skipped = {r["id"] for p, recs in files.items() if p.name in skip for r in recs}
    return {"rewritten": [r for r in rewritten if r["id"] not in skipped],
            "dropped": [r for r in dropped if r["id"] not in skipped]}


def provenance_cmd(apply: bool = False, as_json: bool = False, skip: list[str] | None = None) -> None:
    """Source-host classes of the corpus (corpora/source_hosts.yaml); --apply rewrites mirror items
    (official URL in source_url, mirror in read_at) and drops items whose only source is unrelated."""
    import typer

    table = load_hosts()
    if apply:
        done = apply_to_files(table, skip=tuple(skip or ()))
        typer.echo(f"rewritten {len(done['rewritten'])}, dropped {len(done['dropped'])}", err=True)
    records = [r for recs in read_items().values() for r in recs]
    rep = report(records, table)
    if as_json:
        typer.echo(json.dumps(rep, ensure_ascii=False))
        return
    typer.echo(f"{rep['items']} items: " + ", ".join(f"{c} {n}" for c, n in rep["classes"].items()))
    if rep["read_at_a_mirror"]:
        typer.echo("read at another site (read_at): " + ", ".join(f"{c} {n}" for c, n in rep["read_at_a_mirror"].items())
                   + "; read_at hosts (any class allowed): "
                   + ", ".join(f"{c} {n}" for c, n in rep["read_at_host_classes"].items()))
    for host, n in rep["unlisted_hosts"].items():
        typer.echo(f"提示 unlisted host {host} ({n} items): add it to corpora/source_hosts.yaml", err=True)


def register(corpus_app) -> None:
    """Join `provenance` onto the `decision-screen corpus` command group."""
    import typer

    def provenance(apply: bool = typer.Option(False, "--apply", help="rewrite mirror items, drop unrelated-only ones"),
                   as_json: bool = typer.Option(False, "--json", help="print the report as one JSON line"),
                   skip: list[str] = typer.Option(None, "--skip", help="corpus file name to leave as it is")) -> None:
        """Source-host classes of the corpus (government, official media, mirror, unrelated, empty)."""
        provenance_cmd(apply, as_json, skip)

    corpus_app.command("provenance")(provenance)


if __name__ == "__main__":
    args = sys.argv[1:]
    skips = [a.split("=", 1)[1] for a in args if a.startswith("--skip=")]
    provenance_cmd(apply="--apply" in args, as_json="--json" in args, skip=skips)
